import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency, createTenant, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as getService } from "@/app/api/v1/services/[name]/route";
import { PATCH as patchInstance } from "@/app/api/v1/services/[name]/instances/[id]/route";
import { POST as postService } from "@/app/api/v1/services/route";
import { GET as exportRoute } from "./export/route";
import { POST as importRoute } from "./import/route";

const allowLoopback = () => {
  process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";
};
beforeAll(allowLoopback);
beforeEach(allowLoopback);
afterAll(() => {
  delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
});

interface RegistryProblem {
  status: number;
  code: string;
  detail: string;
  errors: { line: number | null; column: number | null; path: string; message: string; code?: string }[];
}

function importYaml(user: TestUser, text: string | Uint8Array, query = "", contentType = "text/yaml") {
  return callRoute(importRoute, {
    method: "POST",
    path: `/api/v1/registry/import${query}`,
    token: user.token,
    headers: { "content-type": contentType },
    body: text,
  });
}
function exportYaml(user: TestUser, query = "") {
  return callRoute(exportRoute, { path: `/api/v1/registry/export${query}`, token: user.token });
}
async function view(user: TestUser, name: string) {
  const res = await callRoute(getService, { path: `/api/v1/services/${name}`, token: user.token, params: { name } });
  expect(res.status).toBe(200);
  return res.json();
}

/** Every registry row of a tenant plus its registry audit count: equal before and after = nothing changed. */
async function snapshot(tenantId: string) {
  const { rows } = await systemPool().query(
    `SELECT (SELECT coalesce(json_agg(s ORDER BY s.name), '[]') FROM services s WHERE s.tenant_id = $1) AS services,
            (SELECT coalesce(json_agg(i ORDER BY i.id), '[]') FROM instances i WHERE i.tenant_id = $1) AS instances,
            (SELECT count(*)::int FROM audit_events WHERE tenant_id = $1 AND action LIKE 'registry.%') AS audits`,
    [tenantId],
  );
  return rows[0] as { services: { name: string }[]; instances: unknown[]; audits: number };
}
async function importAudits(tenantId: string) {
  const { rows } = await systemPool().query<{ data: Record<string, unknown> }>(
    `SELECT data FROM audit_events WHERE tenant_id = $1 AND action = 'registry.import' ORDER BY id`,
    [tenantId],
  );
  return rows.map((r) => r.data);
}

async function agencyWithAdmin() {
  const a = await createAgency();
  return { ...a, admin: await createUser("admin", a.tenantId) };
}

const SEED = "doc_review: http://doc_review_svc:7100\n";
const UNRESOLVED = "does not resolve from here; probes will fail until it does";

const RICH = `# two services, two regions
services:
  - name: payments
    description: Card payments
    healthPath: /healthz
    latencyBudgetMs: 300
    instances:
      - url: http://127.0.0.1:7301
        region: primary
        weight: 3
      - url: http://127.0.0.1:7302
        region: secondary
  - name: intake
    instances:
      - url: http://127.0.0.1:7303
`;

describe("POST /api/v1/registry/import", () => {
  it("imports the seed's compact form as-is, warning that doc_review_svc does not resolve from here", async () => {
    const t = await agencyWithAdmin();
    const plan = {
      tenants: [t.tenantId],
      create: ["doc-review"],
      update: [],
      remove: [],
      unchanged: [],
      warnings: [{ name: "doc-review", url: "http://doc_review_svc:7100", message: UNRESOLVED }],
    };
    const before = await snapshot(t.tenantId);
    const dry = await importYaml(t.admin, SEED, "?dry_run=1");
    expect(dry.status).toBe(200);
    expect(await dry.json()).toEqual({ dryRun: true, plan });
    expect(await snapshot(t.tenantId)).toEqual(before);

    const res = await importYaml(t.admin, SEED);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ dryRun: false, plan });
    expect(await view(t.operator, "doc-review")).toMatchObject({
      name: "doc-review",
      description: "doc_review",
      healthPath: "/health",
      instances: [{ url: "http://doc_review_svc:7100", region: "primary", weight: 1, status: "unknown" }],
    });
    expect(await importAudits(t.tenantId)).toEqual([
      expect.objectContaining({ created: 1, updated: 0, removed: 0, unchanged: 0, create: ["doc-review"] }),
    ]);

    // Importing the same file again changes nothing.
    const again = await (await importYaml(t.admin, SEED, "?dry_run=1")).json();
    expect(again.plan).toMatchObject({ create: [], update: [], remove: [], unchanged: ["doc-review"] });
  });

  it("imports the rich form with regions and weights (application/yaml too)", async () => {
    const t = await agencyWithAdmin();
    const res = await importYaml(t.admin, RICH, "", "application/yaml; charset=utf-8");
    expect(res.status).toBe(200);
    expect((await res.json()).plan).toMatchObject({ create: ["payments", "intake"], warnings: [] });
    expect(await view(t.admin, "payments")).toMatchObject({
      description: "Card payments",
      healthPath: "/healthz",
      latencyBudgetMs: 300,
      checkIntervalSeconds: 10,
      instances: [
        { url: "http://127.0.0.1:7301", region: "primary", weight: 3 },
        { url: "http://127.0.0.1:7302", region: "secondary", weight: 1 },
      ],
    });
    expect(await importAudits(t.tenantId)).toHaveLength(1);
  });

  it("updates in place: changed settings and instances are listed, matched instances keep their ids", async () => {
    const t = await agencyWithAdmin();
    await importYaml(t.admin, RICH);
    const before = await view(t.admin, "payments");
    const changed = RICH.replace("weight: 3", "weight: 4").replace("    latencyBudgetMs: 300\n", "");
    const res = await importYaml(t.admin, changed);
    const { plan } = await res.json();
    expect(plan.update).toEqual([
      {
        name: "payments",
        changes: ["latencyBudgetMs: 300 → 1000", "instance http://127.0.0.1:7301: weight 3 → 4"],
      },
    ]);
    expect(plan.unchanged).toEqual(["intake"]);
    const after = await view(t.admin, "payments");
    expect(after.instances.map((i: { id: string }) => i.id)).toEqual(before.instances.map((i: { id: string }) => i.id));
    expect(after.instances[0].weight).toBe(4);
    expect(await importAudits(t.tenantId)).toHaveLength(2);
  });

  it("a dry run reports creates, updates and removals but changes nothing", async () => {
    const t = await agencyWithAdmin();
    await importYaml(t.admin, RICH);
    const before = await snapshot(t.tenantId);
    const next = `services:
  - name: payments
    instances:
      - url: http://127.0.0.1:7301
  - name: brand-new
    instances:
      - url: http://127.0.0.1:7304
`;
    const res = await importYaml(t.admin, next, "?dry_run=1&prune=1");
    expect(res.status).toBe(200);
    const { dryRun, plan } = await res.json();
    expect(dryRun).toBe(true);
    expect(plan.create).toEqual(["brand-new"]);
    expect(plan.remove).toEqual(["intake"]);
    expect(plan.update.map((u: { name: string }) => u.name)).toEqual(["payments"]);
    expect(await snapshot(t.tenantId)).toEqual(before);
  });

  it("prunes services the file does not list only with ?prune=1", async () => {
    const t = await agencyWithAdmin();
    await importYaml(t.admin, RICH);
    const onlyIntake = "services:\n  - name: intake\n    instances:\n      - url: http://127.0.0.1:7303\n";
    const keep = await (await importYaml(t.admin, onlyIntake)).json();
    expect(keep.plan).toMatchObject({ remove: [], unchanged: ["intake"] });
    expect((await snapshot(t.tenantId)).services).toHaveLength(2);

    const pruned = await (await importYaml(t.admin, onlyIntake, "?prune=1")).json();
    expect(pruned.plan).toMatchObject({ remove: ["payments"], unchanged: ["intake"] });
    const after = await snapshot(t.tenantId);
    expect(after.services.map((s) => s.name)).toEqual(["intake"]);
    expect(after.instances).toHaveLength(1);
    expect((await importAudits(t.tenantId)).at(-1)).toMatchObject({ removed: 1, remove: ["payments"], prune: true });
  });

  it("reports YAML and schema errors with line and column, and imports nothing", async () => {
    const t = await agencyWithAdmin();
    await importYaml(t.admin, RICH);
    const before = await snapshot(t.tenantId);

    const schema = `services:
  - name: fine
    instances:
      - url: http://127.0.0.1:7310
  - name: broken
    checkIntervalSeconds: 99999
    instances:
      - url: http://127.0.0.1:7311
        weight: -1
`;
    const res = await importYaml(t.admin, schema, "?prune=1");
    expect(res.status).toBe(422);
    const p = (await problemOf(res)) as RegistryProblem;
    expect(p.code).toBe("registry_yaml_invalid");
    expect(p.errors).toEqual([
      expect.objectContaining({ line: 6, column: 27, path: "services.1.checkIntervalSeconds" }),
      expect.objectContaining({ line: 9, column: 17, path: "services.1.instances.0.weight" }),
    ]);
    expect(await snapshot(t.tenantId)).toEqual(before);

    const syntax = await importYaml(t.admin, "services:\n  - name: x\n   bad: [\n");
    expect(syntax.status).toBe(422);
    const sp = (await problemOf(syntax)) as RegistryProblem;
    expect(sp.code).toBe("registry_yaml_invalid");
    expect(sp.errors[0]!.line).toBeGreaterThanOrEqual(2);
    expect(await snapshot(t.tenantId)).toEqual(before);
  });

  it("refuses SSRF targets in a file with their codes and lines, importing nothing", async () => {
    delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
    const t = await agencyWithAdmin();
    const file = `services:
  - name: ok
    instances:
      - url: http://doc_review_svc:7100
  - name: metadata
    instances:
      - url: http://169.254.169.254
      - url: http://127.0.0.1:1
`;
    const res = await importYaml(t.admin, file);
    expect(res.status).toBe(422);
    const p = (await problemOf(res)) as RegistryProblem;
    expect(p.code).toBe("registry_yaml_invalid");
    expect(p.errors).toEqual([
      expect.objectContaining({ line: 7, column: 14, path: "services.1.instances.0.url", code: "ssrf_link_local" }),
      expect.objectContaining({ line: 8, column: 14, path: "services.1.instances.1.url", code: "ssrf_loopback" }),
    ]);
    expect((await snapshot(t.tenantId)).services).toHaveLength(0);
    // The same refusal in the compact form points at the value.
    const compact = (await problemOf(await importYaml(t.admin, "meta: http://169.254.169.254\n"))) as RegistryProblem;
    expect(compact.errors).toEqual([expect.objectContaining({ line: 1, column: 7, code: "ssrf_link_local" })]);
  });

  it("applies all of a file or none of it (one transaction)", async () => {
    const t = await agencyWithAdmin();
    await importYaml(t.admin, RICH);
    const before = await snapshot(t.tenantId);
    // Make the insert of one service fail inside the import's transaction.
    const boom = `boom-${randomBytes(3).toString("hex")}`;
    const owner = new pg.Client({ connectionString: process.env.DATABASE_OWNER_URL });
    await owner.connect();
    const fn = `test_fail_${boom.replace(/-/g, "_")}`;
    try {
      await owner.query(
        `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
      );
      await owner.query(
        `CREATE TRIGGER ${fn} BEFORE INSERT ON services FOR EACH ROW WHEN (NEW.name = '${boom}') EXECUTE FUNCTION ${fn}()`,
      );
      const file = `services:
  - name: payments
    instances:
      - url: http://127.0.0.1:7399
  - name: aaa-first
    instances:
      - url: http://127.0.0.1:7398
  - name: ${boom}
    instances:
      - url: http://127.0.0.1:7397
`;
      const res = await importYaml(t.admin, file, "?prune=1");
      expect(res.status).toBe(500);
    } finally {
      await owner.query(`DROP TRIGGER IF EXISTS ${fn} ON services`);
      await owner.query(`DROP FUNCTION IF EXISTS ${fn}()`);
      await owner.end();
    }
    expect(await snapshot(t.tenantId)).toEqual(before);
  });

  it("keeps a drained instance drained and maintenance on when the file does not mention them", async () => {
    const t = await agencyWithAdmin();
    await importYaml(t.admin, RICH);
    const payments = await view(t.admin, "payments");
    const id = payments.instances[1].id as string;
    const drained = await callRoute(patchInstance, {
      method: "PATCH",
      path: `/api/v1/services/payments/instances/${id}`,
      token: t.operator.token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enabled: false }),
      params: { name: "payments", id },
    });
    expect(drained.status).toBe(200);
    const { plan } = await (await importYaml(t.admin, RICH, "?dry_run=1")).json();
    expect(plan.unchanged).toEqual(["payments", "intake"]);
  });

  it("refuses non-admins (403), other media types (415) and files over 1 MB (413)", async () => {
    const t = await agencyWithAdmin();
    for (const u of [t.operator, t.veteran]) {
      const res = await importYaml(u, SEED);
      expect(res.status).toBe(403);
      expect((await problemOf(res)).code).toBe("role_forbidden");
    }
    const json = await importYaml(t.admin, '{"services": []}', "", "application/json");
    expect(json.status).toBe(415);
    expect((await problemOf(json)).code).toBe("unsupported_media_type");
    expect((await importYaml(t.admin, SEED, "", "text/plain")).status).toBe(200);
    const big = `# ${"x".repeat(1024 * 1024)}\n${SEED}`;
    const tooBig = await importYaml(t.admin, big);
    expect(tooBig.status).toBe(413);
    expect((await problemOf(tooBig)).code).toBe("payload_too_large");
    const notUtf8 = await importYaml(t.admin, new Uint8Array([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
    expect(notUtf8.status).toBe(422);
    expect((await problemOf(notUtf8)).code).toBe("registry_yaml_invalid");
    const badFlag = await importYaml(t.admin, SEED, "?dry_run=maybe");
    expect(badFlag.status).toBe(422);
    expect((await importAudits(t.tenantId)).length).toBe(1);
  });

  it("keeps a tenant-bound admin in its tenant; a global admin names the tenant", async () => {
    const t = await agencyWithAdmin();
    const other = await createTenant();
    const res = await importYaml(
      t.admin,
      `services:\n  - name: x\n    tenant: ${other}\n    instances:\n      - url: http://127.0.0.1:7320\n`,
    );
    expect(res.status).toBe(422);
    expect(((await problemOf(res)) as RegistryProblem).errors).toEqual([
      expect.objectContaining({ line: 3, column: 13, path: "services.0.tenant" }),
    ]);
    expect((await importYaml(t.admin, SEED, `?tenant=${other}`)).status).toBe(404);

    const root = await createUser("admin", null);
    const noTenant = await importYaml(root, SEED);
    expect(noTenant.status).toBe(422);
    expect(((await problemOf(noTenant)) as RegistryProblem).errors[0]).toMatchObject({ line: 1, column: 1 });
    const ok = await importYaml(root, SEED, `?tenant=${other}`);
    expect(ok.status).toBe(200);
    expect((await snapshot(other)).services.map((s) => s.name)).toEqual(["doc-review"]);
  });
});

describe("GET /api/v1/registry/export", () => {
  it("exports text/yaml that imports back as a no-op plan (settings, regions, maintenance, drained instances)", async () => {
    const t = await agencyWithAdmin();
    const post = (body: unknown) =>
      callRoute(postService, {
        method: "POST",
        path: "/api/v1/services",
        token: t.admin.token,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect(
      (
        await post({
          name: "payments",
          description: 'Cards: "wallets" & more\nsecond line',
          healthPath: "/status?full=1",
          checkIntervalSeconds: 60,
          timeoutMs: 900,
          failureThreshold: 7,
          successThreshold: 4,
          latencyBudgetMs: 123,
          maintenance: true,
          instances: [
            { url: "http://127.0.0.1:7401/base", region: "primary", weight: 2 },
            { url: "http://127.0.0.1:7402", region: "eu-west-2", weight: 0, enabled: false },
          ],
        })
      ).status,
    ).toBe(201);
    expect((await post({ name: "seed", instances: [{ url: "http://doc_review_svc:7100" }] })).status).toBe(201);

    const res = await exportYaml(t.admin);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/yaml; charset=utf-8");
    const text = await res.text();
    expect(text).toContain("services:");
    expect(text).not.toContain("tenant:");
    expect(text).toContain("enabled: false");

    const before = await snapshot(t.tenantId);
    const plan = (await (await importYaml(t.admin, text, "?dry_run=1&prune=1")).json()).plan;
    expect(plan).toMatchObject({ create: [], update: [], remove: [], unchanged: ["payments", "seed"] });
    // Applying it is a no-op too, apart from its one audit event.
    expect((await importYaml(t.admin, text, "?prune=1")).status).toBe(200);
    const after = await snapshot(t.tenantId);
    expect(after.services).toEqual(before.services);
    expect(after.instances).toEqual(before.instances);
    expect(after.audits).toBe(before.audits + 1);
  });

  it("is for admins only", async () => {
    const t = await agencyWithAdmin();
    const res = await exportYaml(t.operator);
    expect(res.status).toBe(403);
    expect((await problemOf(res)).code).toBe("role_forbidden");
  });
});
