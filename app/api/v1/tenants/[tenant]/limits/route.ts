import { authedRoute, json, param, parseJsonBody, parseQuery } from "@/lib/http/route";
import { limitInput, limitScopeQuery } from "@/lib/ratelimit/limits-contract";
import { deleteLimit, listLimits, upsertLimit } from "@/lib/ratelimit/limits-repository";

export const dynamic = "force-dynamic";

/** The tenant's limits: admins, or operators of that tenant. */
export const GET = authedRoute({ roles: ["admin", "operator"] }, async (ctx) =>
  json(await listLimits(ctx.principal, param(ctx, "tenant"))),
);

/**
 * Sets the tenant-wide limit (with `"perCaller"`: each caller's share inside it; left out: none), or
 * with `"service"` one service's limit (admin). 200 with the stored limit.
 */
export const PUT = authedRoute({ roles: ["admin"] }, async (ctx) => {
  const input = await parseJsonBody(ctx.req, limitInput);
  return json(await upsertLimit(ctx.principal, param(ctx, "tenant"), input, { meta: ctx.meta }));
});

/** Removes the tenant-wide limit, or with `?service=` one service's limit (admin). */
export const DELETE = authedRoute({ roles: ["admin"] }, async (ctx) => {
  const { service } = parseQuery(ctx.req, limitScopeQuery);
  await deleteLimit(ctx.principal, param(ctx, "tenant"), service, { meta: ctx.meta });
  return new Response(null, { status: 204 });
});
