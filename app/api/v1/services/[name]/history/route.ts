import { findServiceForRead, historyQuery, serviceHistory } from "@/lib/health/service-history";
import { authedRoute, json, param, parseQuery } from "@/lib/http/route";
import { inCallerScope } from "@/lib/tenancy/tenant-access";

export const dynamic = "force-dynamic";

/** `?range=15m|1h|24h|7d` → checks per bucket and p95 latency, from per-minute roll-ups. */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal, meta, params }) => {
  const q = parseQuery(req, historyQuery);
  const name = param({ req, meta, params }, "name");
  const scope = { principal, tenantParam: q.tenant, meta, view: `service-history:${name}` };
  return json(
    await inCallerScope(scope, async (c) =>
      serviceHistory(c, await findServiceForRead(c, principal, name, q.tenant), q.range),
    ),
  );
});
