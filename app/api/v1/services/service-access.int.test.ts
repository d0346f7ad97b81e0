import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { callRoute } from "@/lib/testing/call-route";
import { createTenant, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as exportRoute } from "@/app/api/v1/registry/export/route";
import { POST as importRoute } from "@/app/api/v1/registry/import/route";
import { GET as getRoute, PATCH as patchRoute } from "./[name]/route";
import { POST as postRoute } from "./route";

/**
 * A service's gateway `access` policy through the registry API (ARCHITECTURE.md §7 "Gateway"):
 * POST / PATCH / GET round trip in canonical form, the default when omitted, validation, and the
 * registry.yml export → import round trip.
 */
const allowLoopback = () => {
  process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";
};
beforeAll(allowLoopback);
beforeEach(allowLoopback);
afterAll(() => {
  delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
});

const DEFAULT = { roles: ["operator", "admin"], services: ["*"] };

interface Problem {
  status: number;
  code: string;
  errors?: { path: string; message: string }[];
}
interface View {
  name: string;
  access: { roles: string[]; services: string[] };
}

let admin: TestUser;
let tenant: string;
beforeAll(async () => {
  tenant = await createTenant("acc");
  admin = await createUser("admin", tenant);
});

let n = 0;
const freshName = () => `acc-${Date.now().toString(36)}-${n++}`;

function post(body: unknown) {
  return callRoute(postRoute, {
    method: "POST",
    path: "/api/v1/services",
    token: admin.token,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}
function patch(name: string, body: unknown) {
  return callRoute(patchRoute, {
    method: "PATCH",
    path: `/api/v1/services/${name}`,
    token: admin.token,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    params: { name },
  });
}
async function get(name: string): Promise<View> {
  const r = await callRoute(getRoute, { path: `/api/v1/services/${name}`, token: admin.token, params: { name } });
  expect(r.status).toBe(200);
  return (await r.json()) as View;
}
async function stored(name: string): Promise<unknown> {
  const { rows } = await systemPool().query<{ access: unknown }>(
    `SELECT access FROM services WHERE tenant_id = $1 AND name = $2`,
    [tenant, name],
  );
  return rows[0]?.access;
}
const instance = (port: number) => [{ url: `http://127.0.0.1:${port}` }];

describe("access through POST, PATCH and GET", () => {
  it("shows the default policy when none is given, and stores nothing for it", async () => {
    const name = freshName();
    const r = await post({ name, instances: instance(7601) });
    expect(r.status).toBe(201);
    expect(((await r.json()) as View).access).toEqual(DEFAULT);
    expect((await get(name)).access).toEqual(DEFAULT);
    expect(await stored(name)).toBeNull();
  });

  it("round-trips a policy in its canonical form (roles ordered, names sorted and unique)", async () => {
    const name = freshName();
    const r = await post({
      name,
      instances: instance(7602),
      access: { roles: ["admin", "veteran"], services: ["notify", "billing", "notify"] },
    });
    expect(r.status).toBe(201);
    const want = { roles: ["veteran", "admin"], services: ["billing", "notify"] };
    expect(((await r.json()) as View).access).toEqual(want);
    expect((await get(name)).access).toEqual(want);
  });

  it("PATCH replaces the policy, leaves it alone when omitted, and {} restores the default", async () => {
    const name = freshName();
    expect((await post({ name, instances: instance(7603) })).status).toBe(201);
    const p1 = await patch(name, { access: { roles: ["veteran"] } });
    expect(p1.status).toBe(200);
    expect(((await p1.json()) as View).access).toEqual({ roles: ["veteran"], services: ["*"] });
    const p2 = await patch(name, { description: "unrelated change" });
    expect(((await p2.json()) as View).access).toEqual({ roles: ["veteran"], services: ["*"] });
    const p3 = await patch(name, { access: {} });
    expect(((await p3.json()) as View).access).toEqual(DEFAULT);
    expect(await stored(name)).toBeNull();
    // The change is audited like any other setting.
    const { rows } = await systemPool().query<{ data: { changes: string[] } }>(
      `SELECT data FROM audit_events WHERE tenant_id = $1 AND action = 'registry.service_update' AND target = $2
        ORDER BY id`,
      [tenant, name],
    );
    expect(rows[0]?.data.changes.some((c) => c.startsWith("access: "))).toBe(true);
  });

  it("refuses an unknown role, a bad service name and an unknown key with 422 validation_failed, storing nothing", async () => {
    const name = freshName();
    const r = await post({
      name,
      instances: instance(7604),
      access: { roles: ["veteran", "superuser"], services: ["Bad Name"], who: "me" },
    });
    expect(r.status).toBe(422);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    const body = (await r.json()) as Problem;
    expect(body.code).toBe("validation_failed");
    expect(body.errors?.map((e) => e.path)).toEqual(
      expect.arrayContaining(["access.roles.1", "access.services.0", "access"]),
    );
    expect(await stored(name)).toBeUndefined(); // no row

    expect((await post({ name, instances: instance(7604) })).status).toBe(201);
    const bad = await patch(name, { access: { roles: "admin" } });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as Problem).errors?.[0]?.path).toBe("access.roles");
    expect((await get(name)).access).toEqual(DEFAULT);
  });
});

describe("access in registry.yml", () => {
  it("exports a non-default policy, omits the default, and import(export) changes nothing", async () => {
    const t = await createTenant("accy");
    const a = await createUser("admin", t);
    const importYaml = (text: string, query = "") =>
      callRoute(importRoute, {
        method: "POST",
        path: `/api/v1/registry/import${query}`,
        token: a.token,
        headers: { "content-type": "text/yaml" },
        body: text,
      });
    const first = await importYaml(`services:
  - name: open
    instances: [{ url: "http://127.0.0.1:7611" }]
  - name: inner
    access:
      roles: [admin, veteran]
      services: [billing]
    instances: [{ url: "http://127.0.0.1:7612" }]
`);
    expect(first.status).toBe(200);

    const exported = await (await callRoute(exportRoute, { path: "/api/v1/registry/export", token: a.token })).text();
    const open = exported.slice(exported.indexOf("name: open"), exported.indexOf("name: inner"));
    const inner = exported.slice(exported.indexOf("name: inner"));
    expect(open).not.toContain("access");
    expect(inner).toMatch(/access:\s+roles:\s+- veteran\s+- admin\s+services:\s+- billing/);

    const again = await importYaml(exported, "?dry_run=1");
    expect(again.status).toBe(200);
    const plan = ((await again.json()) as { plan: { update: unknown[]; create: unknown[]; unchanged: string[] } }).plan;
    expect(plan.update).toEqual([]);
    expect(plan.create).toEqual([]);
    expect(plan.unchanged.sort()).toEqual(["inner", "open"]);

    // Declarative: a file without `access` puts the default policy back.
    const reset = await importYaml(
      `services:\n  - name: inner\n    instances: [{ url: "http://127.0.0.1:7612" }]\n`,
      "?dry_run=1",
    );
    const resetPlan = ((await reset.json()) as { plan: { update: { name: string; changes: string[] }[] } }).plan;
    expect(resetPlan.update).toEqual([{ name: "inner", changes: [expect.stringMatching(/^access: /)] }]);
  });

  it("reports a bad role in registry.yml with its line", async () => {
    const t = await createTenant("accz");
    const a = await createUser("admin", t);
    const r = await callRoute(importRoute, {
      method: "POST",
      path: "/api/v1/registry/import",
      token: a.token,
      headers: { "content-type": "text/yaml" },
      body: `services:\n  - name: x\n    access:\n      roles: [root]\n    instances: [{ url: "http://127.0.0.1:7613" }]\n`,
    });
    expect(r.status).toBe(422);
    const body = (await r.json()) as { code: string; errors: { line: number; path: string }[] };
    expect(body.code).toBe("registry_yaml_invalid");
    expect(body.errors[0]).toMatchObject({ path: "services.0.access.roles.0", line: 4 });
  });
});
