import { authedRoute, json, parseQuery } from "@/lib/http/route";
import { importRegistry, readRegistryBody } from "@/lib/registry/registry-yaml";
import { importQuery } from "@/lib/registry/service-schema";

export const dynamic = "force-dynamic";

/** `registry.yml` preview (`?dry_run=1`) or apply; `?prune=1` removes services the file omits. */
export const POST = authedRoute({ roles: ["admin"] }, async ({ req, principal, meta }) => {
  const q = parseQuery(req, importQuery);
  const text = await readRegistryBody(req);
  return json(await importRegistry(principal, text, { dryRun: q.dry_run, prune: q.prune, tenant: q.tenant, meta }));
});
