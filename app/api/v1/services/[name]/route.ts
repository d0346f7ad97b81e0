import { authedRoute, json, param, parseJsonBody, parseQuery } from "@/lib/http/route";
import { deleteService, getService, updateService } from "@/lib/registry/service-repository";
import { servicePatch, tenantQuery } from "@/lib/registry/service-schema";

export const dynamic = "force-dynamic";

export const GET = authedRoute({}, async (ctx) =>
  json(await getService(ctx.principal, param(ctx, "name"), parseQuery(ctx.req, tenantQuery).tenant, ctx.meta)),
);

export const PATCH = authedRoute({ roles: ["admin"] }, async (ctx) => {
  const { tenant } = parseQuery(ctx.req, tenantQuery);
  const patch = await parseJsonBody(ctx.req, servicePatch);
  const { service, warnings } = await updateService(ctx.principal, param(ctx, "name"), patch, {
    tenant,
    meta: ctx.meta,
  });
  return json(warnings.length > 0 ? { ...service, warnings } : service);
});

export const DELETE = authedRoute({ roles: ["admin"] }, async (ctx) => {
  const { tenant } = parseQuery(ctx.req, tenantQuery);
  await deleteService(ctx.principal, param(ctx, "name"), { tenant, meta: ctx.meta });
  return new Response(null, { status: 204 });
});
