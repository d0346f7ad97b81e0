import { pool } from "@/lib/db/pool";
import { failuresQuery, findServiceForRead, serviceFailures } from "@/lib/health/service-history";
import { authedRoute, json, param, parseQuery } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/** The service's last 20 failed health checks, newest first. */
export const GET = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const q = parseQuery(ctx.req, failuresQuery);
  const svc = await findServiceForRead(pool(), ctx.principal, param(ctx, "name"), q.tenant);
  return json(await serviceFailures(pool(), svc));
});
