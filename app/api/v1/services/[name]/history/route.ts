import { pool } from "@/lib/db/pool";
import { findServiceForRead, historyQuery, serviceHistory } from "@/lib/health/service-history";
import { authedRoute, json, param, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/** `?range=15m|1h|24h|7d` → checks per bucket and p95 latency, from per-minute roll-ups. */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const q = parseQuery(ctx.req, historyQuery);
  const svc = await findServiceForRead(pool(), ctx.principal, param(ctx, "name"), q.tenant);
  return json(await serviceHistory(pool(), svc, q.range));
});
