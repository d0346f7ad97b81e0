import { authedRoute, parseQuery } from "@/lib/http/route";
import { exportRegistryYaml } from "@/lib/registry/registry-yaml";
import { tenantQuery } from "@/lib/registry/service-schema";

export const dynamic = "force-dynamic";

export const GET = authedRoute({ roles: ["admin"] }, async ({ req, principal }) => {
  const yaml = await exportRegistryYaml(principal, parseQuery(req, tenantQuery).tenant);
  return new Response(yaml, {
    headers: {
      "content-type": "text/yaml; charset=utf-8",
      "content-disposition": 'attachment; filename="registry.yml"',
      "cache-control": "no-store",
    },
  });
});
