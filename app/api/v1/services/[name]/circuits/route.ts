import { circuitsForService, serviceCircuitsQuery } from "@/lib/circuit/circuit-queries";
import { breakerOfView, serviceCircuitSummary } from "@/lib/circuit/service-circuit-summary";
import { pool } from "@/lib/db/pool";
import { findServiceForRead } from "@/lib/health/service-history";
import { authedRoute, json, param, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * The breakers of one service's instances, for its page (404 across tenants, like its history),
 * with the tile's summary: open / half-open / forced counts and the gateway's failover.
 */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const q = parseQuery(ctx.req, serviceCircuitsQuery);
  const svc = await findServiceForRead(pool(), ctx.principal, param(ctx, "name"), q.tenant);
  const items = await circuitsForService(pool(), svc.tenantId, svc.name);
  return json({ items, ...serviceCircuitSummary(items.map(breakerOfView)) });
});
