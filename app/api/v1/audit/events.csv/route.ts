import { csvForCaller } from "@/lib/audit/audit-api";
import { auditFilterQuery } from "@/lib/audit/audit-queries";
import { authedRoute, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/** The same events as `GET /api/v1/audit/events` (same filters, every page) as a CSV download. */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal, meta }) => {
  const { stream, filename } = await csvForCaller(principal, parseQuery(req, auditFilterQuery), meta);
  return new Response(stream, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
});
