import { circuitsForService, serviceCircuitsQuery } from "@/lib/circuit/circuit-queries";
import { breakerOfView, serviceCircuitSummary } from "@/lib/circuit/service-circuit-summary";
import { findServiceForRead } from "@/lib/health/service-history";
import { authedRoute, json, param, parseQuery } from "@/lib/http/route";
import { inCallerScope } from "@/lib/tenancy/tenant-access";

export const dynamic = "force-dynamic";

/**
 * The breakers of one service's instances, for its page (404 across tenants, like its history),
 * with the tile's summary: open / half-open / forced counts and the gateway's failover.
 */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const q = parseQuery(ctx.req, serviceCircuitsQuery);
  const name = param(ctx, "name");
  const scope = { principal: ctx.principal, tenantParam: q.tenant, meta: ctx.meta, view: `service-circuits:${name}` };
  const items = await inCallerScope(scope, async (c) => {
    const svc = await findServiceForRead(c, ctx.principal, name, q.tenant);
    return circuitsForService(c, svc.tenantId, svc.name);
  });
  return json({ items, ...serviceCircuitSummary(items.map(breakerOfView)) });
});
