import { bulkStatusBody, bulkStatusFromRequest } from "@/lib/claims/bulk-status";
import { callerRoute, json, parseJsonBody } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * Bulk status: `{"ids": [...]}` (1 to 1,000 claim ids) → `{"items": [{claim_id, status,
 * updated_at}], "missing": [...]}`. Veterans see their own claims, operators and service tokens
 * their tenant's; every id the caller cannot see is listed under `missing`.
 */
export const POST = callerRoute({ services: true }, async (ctx) => {
  const body = await parseJsonBody(ctx.req, bulkStatusBody);
  const tenant = new URL(ctx.req.url).searchParams.get("tenant") ?? undefined;
  return json(await bulkStatusFromRequest(ctx.caller, body, ctx.meta, tenant));
});
