import { authedRoute, json, parseQuery } from "@/lib/http/route";
import { inCallerScope } from "@/lib/tenancy/tenant-access";
import { trafficQuery, trafficSeries } from "@/lib/traffic/traffic-queries";

export const dynamic = "force-dynamic";

/** Requests per minute by status class, 429s and latency per tenant (operators: their own tenant). */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async ({ req, principal, meta }) => {
  const q = parseQuery(req, trafficQuery);
  const scope = { principal, tenantParam: q.tenant, meta, view: "traffic" };
  return json(
    await inCallerScope(scope, (c, tenant) => trafficSeries(c, { tenant, range: q.range, service: q.service })),
  );
});
