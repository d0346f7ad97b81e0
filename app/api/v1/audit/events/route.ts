import { listForCaller } from "@/lib/audit/audit-api";
import { auditListQuery } from "@/lib/audit/audit-queries";
import { authedRoute, json, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * The caller's audit events, newest first: `{"items": […], "nextCursor"}`. Filters `actor`,
 * `action`, `target` (exact, or a prefix ending in `*`), `from` / `to` (ISO 8601), `event` (start
 * at that event), `limit` (≤ 500), `cursor`. Operators and admins (global admins: `?tenant=`).
 */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal, meta }) => {
  return json(await listForCaller(principal, parseQuery(req, auditListQuery), meta));
});
