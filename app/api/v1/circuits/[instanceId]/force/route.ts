import { forceBody, forceFromRequest } from "@/lib/circuit/force-action";
import { pool } from "@/lib/db/pool";
import { authedRoute, json, param, parseJsonBody } from "@/lib/http/route";

export const dynamic = "force-dynamic";

/**
 * Force a breaker open or closed, or release it: `{"state": "open" | "closed" | "release"}`.
 * Operators of the instance's tenant and admins; another tenant's instance is 404. Answers the
 * breaker as it now reads.
 */
export const POST = authedRoute({ roles: ["operator", "admin"] }, async (ctx) => {
  const instanceId = param(ctx, "instanceId");
  const body = await parseJsonBody(ctx.req, forceBody);
  return json(await forceFromRequest(pool(), ctx.principal, instanceId, body, ctx.meta));
});
