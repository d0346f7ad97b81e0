import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "../db/pool";
import { AppError } from "../http/app-error";
import { createTenant, createUser, type TestUser } from "../testing/fixtures";
import {
  applyImport,
  exportRegistryYaml,
  importRegistry,
  parseRegistryYaml,
  planImport,
  type RegistryError,
} from "./registry-yaml";
import { UNRESOLVED_WARNING } from "./service-repository";

beforeAll(() => {
  process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";
});
afterAll(() => {
  delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
});

async function registryErrors(p: Promise<unknown>): Promise<RegistryError[]> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe("registry_yaml_invalid");
  return (err as AppError).extra.errors as RegistryError[];
}

async function importEvents(tenantId: string) {
  const { rows } = await systemPool().query<{ actor: string; data: Record<string, number> }>(
    `SELECT actor, data FROM audit_events WHERE tenant_id = $1 AND action = 'registry.import'`,
    [tenantId],
  );
  return rows;
}

describe("a global admin's multi-tenant registry.yml", () => {
  let root: TestUser;
  let t1: string;
  let t2: string;
  beforeAll(async () => {
    root = await createUser("admin", null);
    t1 = await createTenant();
    t2 = await createTenant();
  });

  it("plans with tenant/name labels, applies to each tenant with one audit event per tenant, and round-trips", async () => {
    const text = `services:
  - name: api
    tenant: ${t1}
    instances:
      - url: http://127.0.0.1:7501
  - name: api
    tenant: ${t2}
    instances:
      - url: http://127.0.0.1:7502
        region: secondary
`;
    const { services, locate } = parseRegistryYaml(text);
    const plan = await planImport(root, services, { prune: false, locate });
    expect(plan).toEqual({
      tenants: [t1, t2].sort(),
      create: [`${t1}/api`, `${t2}/api`],
      update: [],
      remove: [],
      unchanged: [],
      warnings: [],
    });
    await applyImport(root, services, { prune: false, locate });
    for (const t of [t1, t2]) {
      const events = await importEvents(t);
      expect(events).toEqual([{ actor: root.username, data: expect.objectContaining({ created: 1 }) }]);
    }

    // One tenant's export has no tenant keys; it imports back into that tenant as a no-op.
    const one = await exportRegistryYaml(root, t2);
    expect(one).not.toContain("tenant:");
    const back = await importRegistry(root, one, { dryRun: true, prune: true, tenant: t2 });
    expect(back.plan).toMatchObject({ create: [], update: [], remove: [], unchanged: ["api"] });

    // The all-tenants export names each service's tenant.
    const all = await exportRegistryYaml(root);
    expect(all).toContain(`tenant: ${t1}`);
    expect(all).toContain(`tenant: ${t2}`);
  });

  it("refuses an unknown tenant and a name listed twice for one tenant, at their lines", async () => {
    const text = `services:
  - name: a
    tenant: no-such-tenant
    instances:
      - url: http://127.0.0.1:7503
  - name: b
    tenant: ${t1}
    instances:
      - url: http://127.0.0.1:7504
  - name: b
    tenant: ${t1}
    instances:
      - url: http://127.0.0.1:7505
`;
    const errors = await registryErrors(importRegistry(root, text, { dryRun: false, prune: false }));
    expect(errors).toEqual([
      expect.objectContaining({ line: 3, column: 13, path: "services.0.tenant" }),
      expect.objectContaining({ line: 10, column: 11, path: "services.2.name" }),
    ]);
    expect(await importEvents(t1)).toHaveLength(1);
  });
});

describe("registration-time URL policy on import (injected resolver)", () => {
  let admin: TestUser;
  beforeAll(async () => {
    admin = await createUser("admin", await createTenant());
  });
  const file = "services:\n  - name: named\n    instances:\n      - url: http://internal.example:8080\n";

  it("refuses a name that resolves to a private address, with the code and line", async () => {
    const { services, locate } = parseRegistryYaml(file);
    const errors = await registryErrors(
      planImport(admin, services, { prune: false, locate, resolve: async () => ["203.0.113.9", "10.0.0.7"] }),
    );
    expect(errors).toEqual([
      expect.objectContaining({ line: 4, column: 14, path: "services.0.instances.0.url", code: "ssrf_reserved" }),
    ]);
    const privateOnly = await registryErrors(
      planImport(admin, services, { prune: false, locate, resolve: async () => ["10.0.0.7"] }),
    );
    expect(privateOnly[0]).toMatchObject({ code: "ssrf_private" });
  });

  it("accepts a name resolving to a public address silently, and one that does not resolve with a warning", async () => {
    const { services } = parseRegistryYaml(file);
    const ok = await planImport(admin, services, { prune: false, resolve: async () => ["93.184.216.34"] });
    expect(ok.warnings).toEqual([]);
    const unresolved = await planImport(admin, services, {
      prune: false,
      resolve: async () => {
        throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
      },
    });
    expect(unresolved.warnings).toEqual([
      { name: "named", url: "http://internal.example:8080", message: UNRESOLVED_WARNING },
    ]);
    expect(unresolved.create).toEqual(["named"]);
  });

  it("reports errors without positions when services come from code rather than a file", async () => {
    const { services } = parseRegistryYaml(file);
    const errors = await registryErrors(
      planImport(admin, services, { prune: false, resolve: async () => ["169.254.169.254"] }),
    );
    expect(errors[0]).toMatchObject({ line: null, column: null, code: "ssrf_link_local" });
  });
});
