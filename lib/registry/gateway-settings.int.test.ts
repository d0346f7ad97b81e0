import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { systemPool, withTransaction } from "../db/pool";
import { json } from "../http/route";
import { problemResponse } from "../http/problem";
import { problemOf } from "../testing/call-route";
import { createAgency, createUser, type TestUser } from "../testing/fixtures";
import { exportRegistryYaml, importRegistry } from "./registry-yaml";
import { REGISTRY_CHANNEL } from "./registry-notify";
import {
  createService,
  deleteService,
  getService,
  insertService,
  setInstanceEnabled,
  updateService,
} from "./service-repository";
import { servicePatch, serviceInput } from "./service-schema";

/**
 * The per-service gateway and circuit-breaker settings through the registry (JSON API and
 * registry.yml), and the `hms_registry` notice every registry write sends so that gateway
 * replicas reload the service once the change is committed.
 *
 * lib/ may not import app/ (eslint), so the API is driven through the same calls its thin route
 * handlers make (schema parse, then the repository), with thrown errors turned into responses
 * by the same `problemResponse` the routes use: a 422 here is byte-for-byte the route's 422.
 */

const allowLoopback = () => {
  process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";
};
beforeAll(allowLoopback);
beforeEach(allowLoopback);
afterAll(() => {
  delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
});

const DEFAULTS = {
  gatewayTimeoutMs: 10000,
  forwardIdentity: false,
  breakerFailureRatePct: 50,
  breakerMinCalls: 10,
  breakerConsecutiveFailures: 5,
  breakerWindowSeconds: 10,
  breakerOpenSeconds: 30,
  breakerHalfOpenCalls: 3,
};
const CUSTOM = {
  gatewayTimeoutMs: 2500,
  forwardIdentity: true,
  breakerFailureRatePct: 25,
  breakerMinCalls: 40,
  breakerConsecutiveFailures: 3,
  breakerWindowSeconds: 60,
  breakerOpenSeconds: 15,
  breakerHalfOpenCalls: 1,
};

interface Problem {
  status: number;
  code: string;
  errors?: { path: string; message: string; line?: number | null }[];
}

let port = 7600;
const url = () => `http://127.0.0.1:${port++}`;

async function agencyWithAdmin() {
  const a = await createAgency();
  return { ...a, admin: await createUser("admin", a.tenantId) };
}

/** What a route answers: the result as JSON, or the thrown error as problem+json. */
async function answer(fn: () => Promise<unknown>, status = 200): Promise<Response> {
  try {
    const body = await fn();
    return body === undefined ? new Response(null, { status: 204 }) : json(body, { status });
  } catch (err) {
    return problemResponse(err, "test");
  }
}
const post = (u: TestUser, body: unknown) =>
  answer(async () => (await createService(u, serviceInput.parse(body))).service, 201);
const patch = (u: TestUser, name: string, body: unknown) =>
  answer(async () => (await updateService(u, name, servicePatch.parse(body))).service);
const get = (u: TestUser, name: string) => answer(() => getService(u, name));
const del = (u: TestUser, name: string) => answer(() => deleteService(u, name));
const drain = (u: TestUser, name: string, id: string) => answer(() => setInstanceEnabled(u, name, id, false));
const importYaml = (u: TestUser, text: string, query = "") => {
  const q = new URLSearchParams(query);
  return answer(() => importRegistry(u, text, { dryRun: q.get("dry_run") === "1", prune: q.get("prune") === "1" }));
};
const exportYaml = (u: TestUser) => exportRegistryYaml(u);

/** Every registry row of a tenant plus its registry audit count: equal before and after = nothing changed. */
async function snapshot(tenantId: string) {
  const { rows } = await systemPool().query(
    `SELECT (SELECT coalesce(json_agg(s ORDER BY s.name), '[]') FROM services s WHERE s.tenant_id = $1) AS services,
            (SELECT coalesce(json_agg(i ORDER BY i.id), '[]') FROM instances i WHERE i.tenant_id = $1) AS instances,
            (SELECT count(*)::int FROM audit_events WHERE tenant_id = $1 AND action LIKE 'registry.%') AS audits`,
    [tenantId],
  );
  return rows[0] as { services: unknown[]; instances: unknown[]; audits: number };
}

async function serviceId(tenantId: string, name: string): Promise<string> {
  const { rows } = await systemPool().query<{ id: string }>(
    `SELECT id FROM services WHERE tenant_id = $1 AND name = $2`,
    [tenantId, name],
  );
  return rows[0]!.id;
}

describe("gateway and breaker settings through the JSON API", () => {
  let a: Awaited<ReturnType<typeof agencyWithAdmin>>;
  beforeAll(async () => {
    a = await agencyWithAdmin();
  });

  it("stores the settings given at creation, answers with them, and reads them back", async () => {
    const res = await post(a.admin, { name: "tuned", ...CUSTOM, instances: [{ url: url() }] });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject(CUSTOM);
    const back = await get(a.veteran, "tuned");
    expect(back.status).toBe(200);
    expect(await back.json()).toMatchObject(CUSTOM);
    // In the columns the gateway reads, not only in the answer.
    const { rows } = await systemPool().query(
      `SELECT gateway_timeout_ms, forward_identity, breaker_failure_rate_pct, breaker_min_calls,
              breaker_consecutive_failures, breaker_window_seconds, breaker_open_seconds, breaker_half_open_calls
         FROM services WHERE tenant_id = $1 AND name = 'tuned'`,
      [a.tenantId],
    );
    expect(rows[0]).toEqual({
      gateway_timeout_ms: 2500,
      forward_identity: true,
      breaker_failure_rate_pct: 25,
      breaker_min_calls: 40,
      breaker_consecutive_failures: 3,
      breaker_window_seconds: 60,
      breaker_open_seconds: 15,
      breaker_half_open_calls: 1,
    });
  });

  it("gives a service created without them the defaults", async () => {
    const res = await post(a.admin, { name: "plain", instances: [{ url: url() }] });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject(DEFAULTS);
  });

  it("accepts the bounds of every range", async () => {
    const low = {
      gatewayTimeoutMs: 100,
      breakerFailureRatePct: 1,
      breakerMinCalls: 1,
      breakerConsecutiveFailures: 1,
      breakerWindowSeconds: 1,
      breakerOpenSeconds: 1,
      breakerHalfOpenCalls: 1,
    };
    const high = {
      gatewayTimeoutMs: 120000,
      breakerFailureRatePct: 100,
      breakerMinCalls: 10000,
      breakerConsecutiveFailures: 1000,
      breakerWindowSeconds: 300,
      breakerOpenSeconds: 3600,
      breakerHalfOpenCalls: 100,
    };
    const r1 = await post(a.admin, { name: "bounds-low", ...low, instances: [{ url: url() }] });
    expect(r1.status).toBe(201);
    expect(await r1.json()).toMatchObject(low);
    const r2 = await post(a.admin, { name: "bounds-high", ...high, instances: [{ url: url() }] });
    expect(r2.status).toBe(201);
    expect(await r2.json()).toMatchObject(high);
  });

  it("changes only the patched setting, audits that one change, and does not re-probe for it", async () => {
    expect((await post(a.admin, { name: "patch-one", ...CUSTOM, instances: [{ url: url() }] })).status).toBe(201);
    const id = await serviceId(a.tenantId, "patch-one");
    // Push the next probe into the future: a gateway setting must leave it there.
    await systemPool().query(`UPDATE instances SET next_check_at = now() + interval '1 hour' WHERE service_id = $1`, [
      id,
    ]);
    const before = await (await get(a.admin, "patch-one")).json();

    const res = await patch(a.admin, "patch-one", { breakerOpenSeconds: 90 });
    expect(res.status).toBe(200);
    const after = await res.json();
    expect(after).toEqual({ ...before, breakerOpenSeconds: 90 });
    expect(await (await get(a.admin, "patch-one")).json()).toEqual(after);

    const { rows } = await systemPool().query<{ data: { changes: string[] } }>(
      `SELECT data FROM audit_events WHERE tenant_id = $1 AND action = 'registry.service_update' AND target = 'patch-one'`,
      [a.tenantId],
    );
    expect(rows.map((r) => r.data.changes)).toEqual([["breakerOpenSeconds: 15 → 90"]]);
    const due = await systemPool().query(
      `SELECT bool_or(next_check_at <= now()) AS due FROM instances WHERE service_id = $1`,
      [id],
    );
    expect(due.rows[0].due).toBe(false);

    // The boolean turns off as well as on.
    const off = await patch(a.admin, "patch-one", { forwardIdentity: false });
    expect(await off.json()).toEqual({ ...after, forwardIdentity: false });
  });

  const outOfRange: [Record<string, unknown>, string][] = [
    [{ gatewayTimeoutMs: 99 }, "gatewayTimeoutMs"],
    [{ gatewayTimeoutMs: 120001 }, "gatewayTimeoutMs"],
    [{ gatewayTimeoutMs: 1500.5 }, "gatewayTimeoutMs"],
    [{ forwardIdentity: "yes" }, "forwardIdentity"],
    [{ breakerFailureRatePct: 0 }, "breakerFailureRatePct"],
    [{ breakerFailureRatePct: 101 }, "breakerFailureRatePct"],
    [{ breakerMinCalls: 0 }, "breakerMinCalls"],
    [{ breakerMinCalls: 10001 }, "breakerMinCalls"],
    [{ breakerConsecutiveFailures: 1001 }, "breakerConsecutiveFailures"],
    [{ breakerWindowSeconds: 301 }, "breakerWindowSeconds"],
    [{ breakerOpenSeconds: 3601 }, "breakerOpenSeconds"],
    [{ breakerHalfOpenCalls: 0 }, "breakerHalfOpenCalls"],
    [{ breakerHalfOpenCalls: "3" }, "breakerHalfOpenCalls"],
  ];

  it("refuses out-of-range settings on create with 422 validation_failed naming the field, storing nothing", async () => {
    const t = await agencyWithAdmin();
    const before = await snapshot(t.tenantId);
    for (const [settings, path] of outOfRange) {
      const res = await post(t.admin, { name: "bad", ...settings, instances: [{ url: url() }] });
      expect(res.status, JSON.stringify(settings)).toBe(422);
      const p = (await problemOf(res)) as Problem;
      expect(p.code).toBe("validation_failed");
      expect(p.errors?.map((e) => e.path)).toEqual([path]);
    }
    expect(await snapshot(t.tenantId)).toEqual(before);
  });

  it("refuses out-of-range settings on PATCH the same way, changing nothing", async () => {
    const t = await agencyWithAdmin();
    expect((await post(t.admin, { name: "keep", ...CUSTOM, instances: [{ url: url() }] })).status).toBe(201);
    const before = await snapshot(t.tenantId);
    for (const [settings, path] of outOfRange) {
      // A valid change next to the bad one is not applied either.
      const res = await patch(t.admin, "keep", { breakerMinCalls: 77, ...settings });
      expect(res.status, JSON.stringify(settings)).toBe(422);
      const p = (await problemOf(res)) as Problem;
      expect(p.code).toBe("validation_failed");
      expect(p.errors?.map((e) => e.path)).toEqual([path]);
    }
    expect(await snapshot(t.tenantId)).toEqual(before);
  });
});

describe("gateway and breaker settings in registry.yml", () => {
  it("imports them, exports only the non-default ones, and the export imports back as a no-op", async () => {
    const t = await agencyWithAdmin();
    const file = `services:
  - name: tuned
    gatewayTimeoutMs: 2500
    forwardIdentity: true
    breakerFailureRatePct: 25
    breakerMinCalls: 40
    breakerConsecutiveFailures: 3
    breakerWindowSeconds: 60
    breakerOpenSeconds: 15
    breakerHalfOpenCalls: 1
    instances:
      - url: ${url()}
  - name: partly
    breakerOpenSeconds: 120
    instances:
      - url: ${url()}
  - name: stock
    instances:
      - url: ${url()}
`;
    const res = await importYaml(t.admin, file);
    expect(res.status).toBe(200);
    expect((await res.json()).plan.create).toEqual(["tuned", "partly", "stock"]);
    expect(await (await get(t.admin, "tuned")).json()).toMatchObject(CUSTOM);
    expect(await (await get(t.admin, "partly")).json()).toMatchObject({ ...DEFAULTS, breakerOpenSeconds: 120 });
    expect(await (await get(t.admin, "stock")).json()).toMatchObject(DEFAULTS);

    const exported = await exportYaml(t.admin);
    const block = (name: string) => exported.slice(exported.indexOf(`- name: ${name}`)).split(/\n {2}- name: /)[0]!;
    for (const [k, v] of Object.entries(CUSTOM)) expect(block("tuned")).toContain(`${k}: ${v}`);
    expect(block("partly")).toContain("breakerOpenSeconds: 120");
    expect(block("partly")).not.toMatch(/gatewayTimeoutMs|forwardIdentity|breakerMinCalls|breakerFailureRatePct/);
    expect(block("stock")).not.toMatch(/gatewayTimeoutMs|forwardIdentity|breaker/);

    const before = await snapshot(t.tenantId);
    const plan = (await (await importYaml(t.admin, exported, "?dry_run=1&prune=1")).json()).plan;
    expect(plan).toMatchObject({ create: [], update: [], remove: [], unchanged: ["partly", "stock", "tuned"] });
    expect((await importYaml(t.admin, exported, "?prune=1")).status).toBe(200);
    const after = await snapshot(t.tenantId);
    expect(after.services).toEqual(before.services);
    expect(after.instances).toEqual(before.instances);
  });

  it("treats an omitted setting as its default (the file is declarative) and lists the reset in the plan", async () => {
    const t = await agencyWithAdmin();
    const u = url();
    expect(
      (
        await importYaml(
          t.admin,
          `services:\n  - name: svc\n    gatewayTimeoutMs: 2500\n    instances:\n      - url: ${u}\n`,
        )
      ).status,
    ).toBe(200);
    const res = await importYaml(
      t.admin,
      `services:\n  - name: svc\n    instances:\n      - url: ${u}\n`,
      "?dry_run=1",
    );
    expect((await res.json()).plan.update).toEqual([{ name: "svc", changes: ["gatewayTimeoutMs: 2500 → 10000"] }]);
  });

  it("refuses an out-of-range setting with its line and column, importing nothing", async () => {
    const t = await agencyWithAdmin();
    const before = await snapshot(t.tenantId);
    const res = await importYaml(
      t.admin,
      `services:\n  - name: svc\n    breakerHalfOpenCalls: 500\n    instances:\n      - url: ${url()}\n`,
    );
    expect(res.status).toBe(422);
    const p = (await problemOf(res)) as Problem;
    expect(p.code).toBe("registry_yaml_invalid");
    expect(p.errors).toEqual([
      expect.objectContaining({
        path: "services.0.breakerHalfOpenCalls",
        line: 3,
        column: 27,
        message: "must be at most 100",
      }),
    ]);
    expect(await snapshot(t.tenantId)).toEqual(before);
  });
});

describe("NOTIFY hms_registry", () => {
  let listener: pg.Client;
  /** Each notice with what another connection saw of the service at that moment. */
  const seen: { id: string; exists: boolean; openSeconds: number | null; enabled: boolean | null }[] = [];
  const of = (id: string) => seen.filter((s) => s.id === id);

  beforeAll(async () => {
    listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await listener.connect();
    listener.on("notification", (n) => {
      if (n.channel !== REGISTRY_CHANNEL || !n.payload) return;
      const id = n.payload;
      // Reading on another connection proves the change was committed before the notice arrived.
      void systemPool()
        .query<{ open: number; enabled: boolean | null }>(
          `SELECT breaker_open_seconds AS open, (SELECT bool_and(enabled) FROM instances WHERE service_id = s.id) AS enabled
             FROM services s WHERE id = $1`,
          [id],
        )
        .then((r) =>
          seen.push({
            id,
            exists: r.rows.length > 0,
            openSeconds: r.rows[0]?.open ?? null,
            enabled: r.rows[0]?.enabled ?? null,
          }),
        );
    });
    await listener.query(`LISTEN ${REGISTRY_CHANNEL}`);
  });
  afterAll(async () => {
    await listener.end();
  });

  it("announces the service id after create, patch, drain and delete, each once and after its commit", async () => {
    const t = await agencyWithAdmin();
    const created = await post(t.admin, { name: "announced", instances: [{ url: url() }, { url: url() }] });
    expect(created.status).toBe(201);
    const instanceId = ((await created.json()) as { instances: { id: string }[] }).instances[0]!.id;
    const id = await serviceId(t.tenantId, "announced");
    await expect.poll(() => of(id).length).toBe(1);
    expect(of(id)[0]).toMatchObject({ exists: true, openSeconds: 30, enabled: true });

    expect((await patch(t.admin, "announced", { breakerOpenSeconds: 45 })).status).toBe(200);
    await expect.poll(() => of(id).length).toBe(2);
    expect(of(id)[1]).toMatchObject({ exists: true, openSeconds: 45 });

    expect((await drain(t.operator, "announced", instanceId)).status).toBe(200);
    await expect.poll(() => of(id).length).toBe(3);
    expect(of(id)[2]).toMatchObject({ exists: true, enabled: false });

    expect((await del(t.admin, "announced")).status).toBe(204);
    await expect.poll(() => of(id).length).toBe(4);
    expect(of(id)[3]).toMatchObject({ exists: false });

    // Nothing more trickles in (one notice per write, however many statements it ran).
    await new Promise((r) => setTimeout(r, 200));
    expect(of(id)).toHaveLength(4);
  });

  it("holds the notice until COMMIT, and sends none for a rolled-back or refused write", async () => {
    const t = await agencyWithAdmin();
    const client = await systemPool().connect();
    let id = "";
    try {
      await client.query("BEGIN");
      id = await insertService(client, t.tenantId, {
        name: "held",
        instances: [{ url: url(), region: "primary", weight: 1 }],
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(of(id)).toHaveLength(0);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await expect.poll(() => of(id).length).toBe(1);
    expect(of(id)[0]!.exists).toBe(true);

    let rolledBack = "";
    await withTransaction(systemPool(), async (tx) => {
      rolledBack = await insertService(tx, t.tenantId, {
        name: "gone",
        instances: [{ url: url(), region: "primary", weight: 1 }],
      });
      throw new Error("roll back");
    }).catch(() => {});
    expect(rolledBack).not.toBe("");

    // A PATCH refused inside its transaction (unknown instance id) rolls back its notice too.
    const refused = await patch(t.admin, "held", {
      breakerOpenSeconds: 99,
      instances: [{ id: "6f1c1a52-3a3f-4a4e-9f6a-4d4c7f0f3a11", url: url() }],
    });
    expect(refused.status).toBe(422);
    await new Promise((r) => setTimeout(r, 300));
    expect(of(rolledBack)).toHaveLength(0);
    expect(of(id)).toHaveLength(1);
  });

  it("announces every service a registry.yml import creates, changes or prunes, and none it leaves alone", async () => {
    const t = await agencyWithAdmin();
    const [u1, u2, u3] = [url(), url(), url()];
    const svc = (name: string, u: string, extra = "") =>
      `  - name: ${name}\n${extra}    instances:\n      - url: ${u}\n`;
    expect(
      (await importYaml(t.admin, `services:\n${svc("same", u1)}${svc("change", u2)}${svc("prune", u3)}`)).status,
    ).toBe(200);
    const ids = {
      same: await serviceId(t.tenantId, "same"),
      change: await serviceId(t.tenantId, "change"),
      prune: await serviceId(t.tenantId, "prune"),
    };
    await expect.poll(() => Object.values(ids).map((i) => of(i).length)).toEqual([1, 1, 1]);

    const second = `services:\n${svc("same", u1)}${svc("change", u2, "    breakerOpenSeconds: 60\n")}${svc("fresh", url())}`;
    expect((await importYaml(t.admin, second, "?prune=1")).status).toBe(200);
    const fresh = await serviceId(t.tenantId, "fresh");
    await expect.poll(() => [ids.change, ids.prune, fresh].map((i) => of(i).length)).toEqual([2, 2, 1]);
    expect(of(ids.change)[1]).toMatchObject({ openSeconds: 60 });
    expect(of(ids.prune)[1]).toMatchObject({ exists: false });
    await new Promise((r) => setTimeout(r, 200));
    expect(of(ids.same)).toHaveLength(1);
  });
});
