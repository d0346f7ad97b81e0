import { circuitListQuery, listCircuits } from "@/lib/circuit/circuit-queries";
import { authedRoute, json, parseQuery } from "@/lib/http/route";
import { inCallerScope } from "@/lib/tenancy/tenant-access";

export const dynamic = "force-dynamic";

/**
 * Every breaker the caller may see, worst first: operators and tenant-bound admins their
 * tenant's, global admins every tenant's (or `?tenant=`), with the same rules as the board.
 */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal, meta }) => {
  const q = parseQuery(req, circuitListQuery);
  const scope = { principal, tenantParam: q.tenant, meta, view: "circuits" };
  return json(await inCallerScope(scope, (c, tenant) => listCircuits(c, { ...q, tenant })));
});
