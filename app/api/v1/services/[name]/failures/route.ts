import { failuresQuery, findServiceForRead, serviceFailures } from "@/lib/health/service-history";
import { authedRoute, json, param, parseQuery } from "@/lib/http/route";
import { inCallerScope } from "@/lib/tenancy/tenant-access";

export const dynamic = "force-dynamic";

/** The service's last 20 failed health checks, newest first. */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const q = parseQuery(ctx.req, failuresQuery);
  const name = param(ctx, "name");
  const scope = { principal: ctx.principal, tenantParam: q.tenant, meta: ctx.meta, view: `service-failures:${name}` };
  return json(
    await inCallerScope(scope, async (c) =>
      serviceFailures(c, await findServiceForRead(c, ctx.principal, name, q.tenant)),
    ),
  );
});
