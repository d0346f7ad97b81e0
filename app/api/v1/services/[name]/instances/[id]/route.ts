import { authedRoute, json, param, parseJsonBody, parseQuery } from "@/lib/http/route";
import { setInstanceEnabled } from "@/lib/registry/service-repository";
import { instancePatch, tenantQuery } from "@/lib/registry/service-schema";

export const dynamic = "force-dynamic";

/** Drain (`{"enabled": false}`) or enable an instance: admins and the tenant's operators. */
export const PATCH = authedRoute({ roles: ["admin", "operator"] }, async (ctx) => {
  const { tenant } = parseQuery(ctx.req, tenantQuery);
  const { enabled } = await parseJsonBody(ctx.req, instancePatch);
  return json(
    await setInstanceEnabled(ctx.principal, param(ctx, "name"), param(ctx, "id"), enabled, { tenant, meta: ctx.meta }),
  );
});
