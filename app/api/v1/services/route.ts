import { authedRoute, json, parseJsonBody, parseQuery } from "@/lib/http/route";
import { createService, listServices, serviceLocation } from "@/lib/registry/service-repository";
import { listServicesQuery, serviceInput, tenantQuery } from "@/lib/registry/service-schema";

export const dynamic = "force-dynamic";

/** Services of the caller's tenant (a global admin: every tenant, or `?tenant=`), paginated. */
export const GET = authedRoute({}, async ({ req, principal, meta }) =>
  json(await listServices(principal, parseQuery(req, listServicesQuery), meta)),
);

/** Registers a service (admin). 201 + Location; `warnings` only when a host does not resolve. */
export const POST = authedRoute({ roles: ["admin"] }, async ({ req, principal, meta }) => {
  const { tenant } = parseQuery(req, tenantQuery);
  const { service, warnings } = await createService(principal, await parseJsonBody(req, serviceInput), {
    tenant,
    meta,
  });
  return json(warnings.length > 0 ? { ...service, warnings } : service, {
    status: 201,
    headers: { location: serviceLocation(principal, service) },
  });
});
