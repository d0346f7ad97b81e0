import { pool } from "@/lib/db/pool";
import { boardTenant } from "@/lib/health/board-queries";
import { authedRoute, json, parseQuery } from "@/lib/http/route";
import { trafficQuery, trafficSeries } from "@/lib/traffic/traffic-queries";

export const dynamic = "force-dynamic";

/** Requests per minute by status class, 429s and latency per tenant (operators: their own tenant). */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal }) => {
  const q = parseQuery(req, trafficQuery);
  const tenant = boardTenant(principal, q.tenant);
  return json(await trafficSeries(pool(), { tenant, range: q.range, service: q.service }));
});
