import { revokeServiceTokenFromRequest } from "@/lib/auth/service-token-admin";
import { authedRoute, param, parseQuery } from "@/lib/http/route";
import { tenantQuery } from "@/lib/queue/queue-schema";

export const dynamic = "force-dynamic";

/** Revoke a service token → 204 (it stops working within seconds on every replica). Audited. */
export const DELETE = authedRoute({ roles: ["admin"] }, async (ctx) => {
  const { tenant } = parseQuery(ctx.req, tenantQuery);
  await revokeServiceTokenFromRequest(ctx.principal, param(ctx, "name"), param(ctx, "id"), tenant, ctx.meta);
  return new Response(null, { status: 204 });
});
