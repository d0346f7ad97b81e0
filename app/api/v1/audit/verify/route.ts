import { auditVerifyQuery, verifyForCaller } from "@/lib/audit/audit-api";
import { authedRoute, json, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * Verifies the caller's audit hash chain: `{"ok", "checked", "brokenAt": null | {seq, eventId,
 * reason, at}, "unsealed", "headSeq", "headHash", "tenant", …}`. Operators and admins; a global
 * admin names a tenant with `?tenant=` or gets the global chain (events without a tenant).
 */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal, meta }) => {
  const q = parseQuery(req, auditVerifyQuery);
  return json(await verifyForCaller(principal, q.tenant, meta));
});
