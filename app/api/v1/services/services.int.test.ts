import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency, createTenant, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as listAlias } from "@/app/services/route";
import { PATCH as patchInstance } from "./[name]/instances/[id]/route";
import { DELETE as deleteRoute, GET as getRoute, PATCH as patchRoute } from "./[name]/route";
import { GET as listRoute, POST as postRoute } from "./route";

// Loopback test URLs are allow-listed (again before each test: the SSRF tests clear it to see the refusals).
const allowLoopback = () => {
  process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";
};
beforeAll(allowLoopback);
beforeEach(allowLoopback);
afterAll(() => {
  delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { path: string; message: string; code?: string }[];
}

function post(user: TestUser, body: unknown, path = "/api/v1/services") {
  return callRoute(postRoute, {
    method: "POST",
    path,
    token: user.token,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}
function get(user: TestUser, name: string, query = "") {
  return callRoute(getRoute, { path: `/api/v1/services/${name}${query}`, token: user.token, params: { name } });
}
function patch(user: TestUser, name: string, body: unknown, query = "") {
  return callRoute(patchRoute, {
    method: "PATCH",
    path: `/api/v1/services/${name}${query}`,
    token: user.token,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    params: { name },
  });
}
function del(user: TestUser, name: string, query = "") {
  return callRoute(deleteRoute, {
    method: "DELETE",
    path: `/api/v1/services/${name}${query}`,
    token: user.token,
    params: { name },
  });
}
function drain(user: TestUser, name: string, id: string, enabled: boolean) {
  return callRoute(patchInstance, {
    method: "PATCH",
    path: `/api/v1/services/${name}/instances/${id}`,
    token: user.token,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ enabled }),
    params: { name, id },
  });
}
function list(user: TestUser, query = "") {
  return callRoute(listRoute, { path: `/api/v1/services${query}`, token: user.token });
}

async function audits(tenantId: string, action?: string): Promise<number> {
  const { rows } = await systemPool().query<{ n: number }>(
    `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action LIKE 'registry.%' AND ($2::text IS NULL OR action = $2)`,
    [tenantId, action ?? null],
  );
  return rows[0]!.n;
}
async function serviceCount(tenantId: string): Promise<number> {
  const { rows } = await systemPool().query<{ n: number }>(
    `SELECT count(*)::int AS n FROM services WHERE tenant_id = $1`,
    [tenantId],
  );
  return rows[0]!.n;
}

let n = 0;
const port = () => 20000 + n++;
const url = () => `http://127.0.0.1:${port()}`;

/** A tenant with an admin, an operator and a veteran. */
async function agencyWithAdmin() {
  const a = await createAgency();
  return { ...a, admin: await createUser("admin", a.tenantId) };
}

describe("POST /api/v1/services", () => {
  let a: Awaited<ReturnType<typeof agencyWithAdmin>>;
  beforeAll(async () => {
    a = await agencyWithAdmin();
  });

  it("registers a service with the defaults and answers 201 with Location and exactly the contract's shape", async () => {
    const res = await post(a.admin, { name: "doc-review", instances: [{ url: "http://127.0.0.1:7100/" }] });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe("/api/v1/services/doc-review");
    const body = await res.json();
    expect(body).toEqual({
      name: "doc-review",
      tenant: a.tenantId,
      description: null,
      healthPath: "/health",
      checkIntervalSeconds: 10,
      timeoutMs: 2000,
      failureThreshold: 3,
      successThreshold: 2,
      latencyBudgetMs: 1000,
      gatewayTimeoutMs: 10000,
      forwardIdentity: false,
      breakerFailureRatePct: 50,
      breakerMinCalls: 10,
      breakerConsecutiveFailures: 5,
      breakerWindowSeconds: 10,
      breakerOpenSeconds: 30,
      breakerHalfOpenCalls: 3,
      maintenance: false,
      access: { roles: ["operator", "admin"], services: ["*"] },
      status: "unknown",
      statusReason: null,
      statusChangedAt: null,
      instances: [
        {
          id: expect.stringMatching(UUID),
          url: "http://127.0.0.1:7100",
          region: "primary",
          weight: 1,
          enabled: true,
          status: "unknown",
          statusReason: null,
          lastCheckedAt: null,
          lastLatencyMs: null,
          lastError: null,
        },
      ],
    });
    // Due for a probe at once, and one audit event for the write.
    const { rows } = await systemPool().query(`SELECT next_check_at <= now() AS due FROM instances WHERE id = $1`, [
      body.instances[0].id,
    ]);
    expect(rows[0].due).toBe(true);
    expect(await audits(a.tenantId, "registry.service_create")).toBe(1);

    const back = await get(a.veteran, "doc-review");
    expect(back.status).toBe(200);
    expect(await back.json()).toEqual(body);
  });

  it("keeps every given setting, region and weight", async () => {
    const res = await post(a.admin, {
      name: "payments",
      description: "Card payments",
      healthPath: "/healthz",
      checkIntervalSeconds: 30,
      timeoutMs: 500,
      failureThreshold: 5,
      successThreshold: 1,
      latencyBudgetMs: 250,
      maintenance: true,
      instances: [
        { url: "http://127.0.0.1:7201", region: "primary", weight: 3 },
        { url: "http://127.0.0.1:7202", region: "secondary", weight: 0, enabled: false },
      ],
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      description: "Card payments",
      healthPath: "/healthz",
      checkIntervalSeconds: 30,
      timeoutMs: 500,
      failureThreshold: 5,
      successThreshold: 1,
      latencyBudgetMs: 250,
      maintenance: true,
      instances: [
        { url: "http://127.0.0.1:7201", region: "primary", weight: 3, enabled: true },
        { url: "http://127.0.0.1:7202", region: "secondary", weight: 0, enabled: false },
      ],
    });
  });

  it("refuses a duplicate name in the same tenant with 409 service_exists, but allows it in another tenant", async () => {
    const name = "dup-svc";
    expect((await post(a.admin, { name, instances: [{ url: url() }] })).status).toBe(201);
    const before = await audits(a.tenantId);
    const again = await post(a.admin, { name, instances: [{ url: url() }] });
    expect(again.status).toBe(409);
    expect((await problemOf(again)).code).toBe("service_exists");
    expect(await audits(a.tenantId)).toBe(before);

    const b = await agencyWithAdmin();
    expect((await post(b.admin, { name, instances: [{ url: url() }] })).status).toBe(201);
  });

  it("refuses invalid input with 422 validation_failed, naming each field, and stores nothing", async () => {
    const t = await agencyWithAdmin();
    const cases: [unknown, string][] = [
      [{ name: "Bad_Name", instances: [{ url: url() }] }, "name"],
      [{ name: "-x", instances: [{ url: url() }] }, "name"],
      [{ name: "no-instances", instances: [] }, "instances"],
      [{ name: "no-instances" }, "instances"],
      [{ name: "bad-url", instances: [{ url: "not a url" }] }, "instances.0.url"],
      [{ name: "query-url", instances: [{ url: "http://127.0.0.1:1/?a=1" }] }, "instances.0.url"],
      [{ name: "huge", checkIntervalSeconds: 999999, instances: [{ url: url() }] }, "checkIntervalSeconds"],
      [{ name: "tiny", timeoutMs: 5, instances: [{ url: url() }] }, "timeoutMs"],
      [{ name: "hp", healthPath: "health", instances: [{ url: url() }] }, "healthPath"],
      [{ name: "hp2", healthPath: "//evil.example/x", instances: [{ url: url() }] }, "healthPath"],
      [{ name: "region", instances: [{ url: url(), region: "Primary!" }] }, "instances.0.region"],
      [{ name: "weight", instances: [{ url: url(), weight: 1001 }] }, "instances.0.weight"],
      [{ name: "typo", healthpath: "/x", instances: [{ url: url() }] }, ""],
      [{ name: "same", instances: [{ url: "http://127.0.0.1:9/" }, { url: "http://127.0.0.1:9" }] }, "instances.1.url"],
      [
        { name: "id-on-create", instances: [{ id: "6f1c1a52-3a3f-4a4e-9f6a-4d4c7f0f3a11", url: url() }] },
        "instances.0.id",
      ],
    ];
    for (const [body, path] of cases) {
      const res = await post(t.admin, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      const p = (await problemOf(res)) as Problem;
      expect(p.code).toBe("validation_failed");
      expect(p.errors?.map((e) => e.path)).toContain(path);
    }
    expect(await serviceCount(t.tenantId)).toBe(0);
    expect(await audits(t.tenantId)).toBe(0);
  });

  it("refuses SSRF targets with 422 and their codes unless allow-listed, storing nothing", async () => {
    delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
    const t = await agencyWithAdmin();
    const cases: [string, string][] = [
      ["http://169.254.169.254", "ssrf_link_local"],
      ["http://169.254.169.254/latest/meta-data", "ssrf_link_local"],
      ["http://127.0.0.1:1", "ssrf_loopback"],
      ["http://localhost:7100", "ssrf_loopback"], // a name that resolves to loopback
      ["http://[::1]:7100", "ssrf_loopback"],
      ["http://10.1.2.3", "ssrf_private"],
      ["http://0x7f000001", "ssrf_loopback"], // hex form of 127.0.0.1
      ["ftp://files.example", "url_scheme_not_allowed"],
      ["http://user:pw@127.0.0.1:7100", "url_credentials_not_allowed"],
    ];
    for (const [target, code] of cases) {
      const res = await post(t.admin, {
        name: "ssrf",
        instances: [{ url: "http://doc_review_svc:1" }, { url: target }],
      });
      expect(res.status, target).toBe(422);
      const p = (await problemOf(res)) as Problem;
      expect(p.code, target).toBe(code);
      expect(p.errors?.[0]).toMatchObject({ path: "instances.1.url", code });
    }
    expect(await serviceCount(t.tenantId)).toBe(0);

    // The same loopback URL registers once an admin allow-lists it.
    process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";
    expect((await post(t.admin, { name: "ssrf", instances: [{ url: "http://127.0.0.1:1" }] })).status).toBe(201);
  });

  it("accepts a host that does not resolve from here, with a warning (the probe's connect-time check guards it)", async () => {
    const res = await post(a.admin, { name: "unresolved", instances: [{ url: "http://doc_review_svc:7100" }] });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body.warnings).toEqual([
      {
        name: "unresolved",
        url: "http://doc_review_svc:7100",
        message: "does not resolve from here; probes will fail until it does",
      },
    ]);
  });

  it("refuses writes from operators and veterans with 403 role_forbidden", async () => {
    for (const u of [a.operator, a.veteran]) {
      const res = await post(u, { name: "nope", instances: [{ url: url() }] });
      expect(res.status).toBe(403);
      expect((await problemOf(res)).code).toBe("role_forbidden");
      expect((await patch(u, "doc-review", { description: "x" })).status).toBe(403);
      expect((await del(u, "doc-review")).status).toBe(403);
    }
    expect((await get(a.operator, "doc-review")).status).toBe(200);
  });

  it("refuses a tenant-bound admin naming another tenant with 404, as if it did not exist", async () => {
    const other = await createTenant();
    const res = await post(a.admin, { name: "elsewhere", tenant: other, instances: [{ url: url() }] });
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe("not_found");
    expect(await serviceCount(other)).toBe(0);
  });
});

describe("tenant isolation", () => {
  it("answers 404 (not 403) for another tenant's service, to every role and method", async () => {
    const a = await agencyWithAdmin();
    const b = await agencyWithAdmin();
    const created = await (await post(a.admin, { name: "secret-svc", instances: [{ url: url() }] })).json();
    const id = created.instances[0].id as string;
    for (const u of [b.admin, b.operator, b.veteran]) {
      const res = await get(u, "secret-svc");
      expect(res.status).toBe(404);
      expect((await problemOf(res)).code).toBe("not_found");
    }
    expect((await patch(b.admin, "secret-svc", { description: "mine now" })).status).toBe(404);
    expect((await del(b.admin, "secret-svc")).status).toBe(404);
    expect((await drain(b.operator, "secret-svc", id, false)).status).toBe(404);
    expect((await drain(b.admin, "secret-svc", id, false)).status).toBe(404);
    const listed = await (await list(b.operator)).json();
    expect(listed.items.map((s: { name: string }) => s.name)).not.toContain("secret-svc");
    // Naming the other tenant explicitly is a 404 too.
    const named = await get(b.admin, "secret-svc", `?tenant=${a.tenantId}`);
    expect(named.status).toBe(404);
    expect((await problemOf(named)).code).toBe("not_found");
    expect(await audits(a.tenantId)).toBe(1);
    expect(await audits(b.tenantId)).toBe(0);
    expect((await get(a.admin, "secret-svc")).status).toBe(200);
  });
});

describe("global admins", () => {
  it("must name an existing tenant on create, may pass ?tenant= on reads and writes", async () => {
    const root = await createUser("admin", null);
    const t1 = await createTenant();
    const t2 = await createTenant();

    const missing = await post(root, { name: "g-svc", instances: [{ url: url() }] });
    expect(missing.status).toBe(422);
    expect(((await problemOf(missing)) as Problem).errors?.[0]?.path).toBe("tenant");
    const unknown = await post(root, { name: "g-svc", tenant: "no-such-tenant", instances: [{ url: url() }] });
    expect(unknown.status).toBe(422);
    expect(((await problemOf(unknown)) as Problem).errors?.[0]?.path).toBe("tenant");

    const res = await post(root, { name: "g-svc", tenant: t1, instances: [{ url: url() }] });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`/api/v1/services/g-svc?tenant=${t1}`);
    expect((await res.json()).tenant).toBe(t1);
    // ?tenant= in the query works as well as in the body.
    expect(
      (await post(root, { name: "g-svc", instances: [{ url: url() }] }, `/api/v1/services?tenant=${t2}`)).status,
    ).toBe(201);

    // The name exists in two tenants: without ?tenant= it is ambiguous.
    const ambiguous = await get(root, "g-svc");
    expect(ambiguous.status).toBe(422);
    expect((await get(root, "g-svc", `?tenant=${t2}`)).status).toBe(200);
    const patched = await patch(root, "g-svc", { description: "second" }, `?tenant=${t2}`);
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ tenant: t2, description: "second" });
    expect((await del(root, "g-svc", `?tenant=${t1}`)).status).toBe(204);
    // Unique again: found without ?tenant=.
    expect((await get(root, "g-svc")).status).toBe(200);
    expect(await audits(t1)).toBe(2);
    expect(await audits(t2)).toBe(2);

    const mine = await (await list(root, `?tenant=${t2}`)).json();
    expect(mine.items.map((s: { name: string; tenant: string }) => `${s.tenant}/${s.name}`)).toEqual([`${t2}/g-svc`]);
  });
});

describe("GET /api/v1/services and /services", () => {
  let t: Awaited<ReturnType<typeof agencyWithAdmin>>;
  const names = ["svc-a", "svc-b", "svc-c", "svc-d", "svc-e"];
  beforeAll(async () => {
    t = await agencyWithAdmin();
    for (const name of [...names].reverse()) {
      expect((await post(t.admin, { name, instances: [{ url: url() }] })).status).toBe(201);
    }
    await systemPool().query(`UPDATE services SET status = 'red' WHERE tenant_id = $1 AND name = 'svc-c'`, [
      t.tenantId,
    ]);
  });

  it("pages through the tenant's services by name with limit and cursor", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list(t.operator, `?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { items: { name: string; tenant: string }[]; nextCursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(2);
      for (const s of body.items) expect(s.tenant).toBe(t.tenantId);
      seen.push(...body.items.map((s) => s.name));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(names);
    expect(pages).toBe(3);
  });

  it("filters by ?status= and refuses a bad limit, status or cursor with 422", async () => {
    const red = await (await list(t.veteran, "?status=red")).json();
    expect(red).toEqual({ items: [expect.objectContaining({ name: "svc-c", status: "red" })], nextCursor: null });
    for (const q of ["?limit=0", "?limit=501", "?status=purple", "?cursor=garbage"]) {
      const res = await list(t.operator, q);
      expect(res.status, q).toBe(422);
      expect((await problemOf(res)).code).toBe("validation_failed");
    }
  });

  it("serves the same list at the short alias GET /services, and 401 without a token", async () => {
    const direct = await (await list(t.operator)).json();
    const res = await callRoute(listAlias, { path: "/services", token: t.operator.token });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(direct);
    expect(direct.items).toHaveLength(5);
    const anon = await callRoute(listAlias, { path: "/services" });
    expect(anon.status).toBe(401);
  });
});

describe("PATCH /api/v1/services/<name>", () => {
  it("replaces the instance set: matched URLs keep their id and health state, others are added or removed", async () => {
    const t = await agencyWithAdmin();
    const [u1, u2, u3] = [url(), url(), url()];
    const created = await (await post(t.admin, { name: "pay", instances: [{ url: u1 }, { url: u2 }] })).json();
    const [i1, i2] = created.instances as { id: string }[];
    await systemPool().query(
      `UPDATE instances SET status = 'green', consecutive_successes = 5, last_checked_at = now(), last_latency_ms = 12,
              next_check_at = now() + interval '1 hour' WHERE id = $1`,
      [i1!.id],
    );

    const res = await patch(t.admin, "pay", {
      description: "Payments",
      instances: [
        { url: `${u1}/`, weight: 5 },
        { url: u3, region: "secondary" },
      ],
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.description).toBe("Payments");
    expect(body.instances).toEqual([
      expect.objectContaining({ id: i1!.id, url: u1, weight: 5, status: "green", lastLatencyMs: 12 }),
      expect.objectContaining({ url: u3, region: "secondary", status: "unknown", lastCheckedAt: null }),
    ]);
    expect(body.instances[1].id).not.toBe(i2!.id);
    const gone = await systemPool().query(`SELECT 1 FROM instances WHERE id = $1`, [i2!.id]);
    expect(gone.rows).toHaveLength(0);
    // The changed instance is due for a probe now.
    const due = await systemPool().query(`SELECT next_check_at <= now() AS due FROM instances WHERE id = $1`, [i1!.id]);
    expect(due.rows[0].due).toBe(true);
    const ev = await systemPool().query(
      `SELECT data FROM audit_events WHERE tenant_id = $1 AND action = 'registry.service_update'`,
      [t.tenantId],
    );
    expect(ev.rows).toHaveLength(1);
    expect(ev.rows[0].data.changes).toEqual(
      expect.arrayContaining([
        `description: null → "Payments"`,
        `instance removed: ${u2}`,
        `instance ${u1}: weight 1 → 5`,
        `instance added: ${u3} (region secondary, weight 1)`,
      ]),
    );
  });

  it("moves an instance to a new URL by id, resetting its health counters; refuses an unknown id", async () => {
    const t = await agencyWithAdmin();
    const [u1, u2] = [url(), url()];
    const created = await (await post(t.admin, { name: "mover", instances: [{ url: u1 }] })).json();
    const id = created.instances[0].id as string;
    await systemPool().query(
      `UPDATE instances SET status = 'red', consecutive_failures = 9, last_error = 'boom', last_checked_at = now() WHERE id = $1`,
      [id],
    );
    const res = await patch(t.admin, "mover", { instances: [{ id, url: u2 }] });
    expect(res.status).toBe(200);
    expect((await res.json()).instances).toEqual([
      expect.objectContaining({ id, url: u2, status: "unknown", lastError: null, lastCheckedAt: null }),
    ]);
    const { rows } = await systemPool().query(`SELECT consecutive_failures FROM instances WHERE id = $1`, [id]);
    expect(rows[0].consecutive_failures).toBe(0);

    const bad = await patch(t.admin, "mover", {
      instances: [{ id: "6f1c1a52-3a3f-4a4e-9f6a-4d4c7f0f3a11", url: u1 }],
    });
    expect(bad.status).toBe(422);
    expect(((await problemOf(bad)) as Problem).errors?.[0]?.path).toBe("instances.0.id");
    expect(await audits(t.tenantId, "registry.service_update")).toBe(1);
  });

  it("swaps two instances' URLs by id without tripping the unique index", async () => {
    const t = await agencyWithAdmin();
    const [u1, u2] = [url(), url()];
    const created = await (await post(t.admin, { name: "swap", instances: [{ url: u1 }, { url: u2 }] })).json();
    const [a, b] = created.instances as { id: string }[];
    const res = await patch(t.admin, "swap", {
      instances: [
        { id: a!.id, url: u2 },
        { id: b!.id, url: u1 },
      ],
    });
    expect(res.status).toBe(200);
    expect((await res.json()).instances.map((i: { id: string; url: string }) => [i.id, i.url])).toEqual([
      [a!.id, u2],
      [b!.id, u1],
    ]);
  });

  it("entering maintenance makes every instance due for a probe (the prober recomputes status)", async () => {
    const t = await agencyWithAdmin();
    await post(t.admin, { name: "maint", instances: [{ url: url() }, { url: url() }] });
    await systemPool().query(
      `UPDATE instances SET next_check_at = now() + interval '1 hour'
        WHERE service_id = (SELECT id FROM services WHERE tenant_id = $1 AND name = 'maint')`,
      [t.tenantId],
    );
    const res = await patch(t.admin, "maint", { maintenance: true });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ maintenance: true, status: "unknown" });
    const { rows } = await systemPool().query(
      `SELECT bool_and(next_check_at <= now()) AS due FROM instances
        WHERE service_id = (SELECT id FROM services WHERE tenant_id = $1 AND name = 'maint')`,
      [t.tenantId],
    );
    expect(rows[0].due).toBe(true);
  });

  it('clears the description with "" (what the edit form sends) as well as with null', async () => {
    const t = await agencyWithAdmin();
    await post(t.admin, { name: "desc", description: "  spaced  ", instances: [{ url: url() }] });
    expect((await (await get(t.admin, "desc")).json()).description).toBe("spaced");
    expect((await (await patch(t.admin, "desc", { description: "" })).json()).description).toBeNull();
    await patch(t.admin, "desc", { description: "again" });
    expect((await (await patch(t.admin, "desc", { description: null })).json()).description).toBeNull();
  });

  it("renames, refusing a name already taken with 409; refuses SSRF instance URLs and changes nothing", async () => {
    const t = await agencyWithAdmin();
    await post(t.admin, { name: "one", instances: [{ url: url() }] });
    await post(t.admin, { name: "two", instances: [{ url: url() }] });
    const taken = await patch(t.admin, "one", { name: "two" });
    expect(taken.status).toBe(409);
    expect((await problemOf(taken)).code).toBe("service_exists");
    const renamed = await patch(t.admin, "one", { name: "uno" });
    expect(renamed.status).toBe(200);
    expect((await renamed.json()).name).toBe("uno");
    expect((await get(t.admin, "one")).status).toBe(404);

    delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
    const ssrf = await patch(t.admin, "uno", { instances: [{ url: "http://169.254.169.254" }] });
    expect(ssrf.status).toBe(422);
    expect((await problemOf(ssrf)).code).toBe("ssrf_link_local");
    const still = await (await get(t.admin, "uno")).json();
    expect(still.instances).toHaveLength(1);
    expect(still.instances[0].url).not.toContain("169.254");

    const invalid = await patch(t.admin, "uno", { checkIntervalSeconds: 1, tenant: "x" });
    expect(invalid.status).toBe(422);
    expect(await audits(t.tenantId, "registry.service_update")).toBe(1);
  });
});

describe("DELETE /api/v1/services/<name>", () => {
  it("answers 204, then 404; removes the instances and leaves one audit event", async () => {
    const t = await agencyWithAdmin();
    const created = await (await post(t.admin, { name: "gone", instances: [{ url: url() }] })).json();
    const res = await del(t.admin, "gone");
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await get(t.admin, "gone")).status).toBe(404);
    expect((await del(t.admin, "gone")).status).toBe(404);
    const { rows } = await systemPool().query(`SELECT 1 FROM instances WHERE id = $1`, [created.instances[0].id]);
    expect(rows).toHaveLength(0);
    expect(await audits(t.tenantId, "registry.service_delete")).toBe(1);
  });
});

describe("PATCH /api/v1/services/<name>/instances/<id>", () => {
  it("lets the tenant's operator drain and re-enable an instance, each audited once", async () => {
    const t = await agencyWithAdmin();
    const created = await (
      await post(t.admin, { name: "drainable", instances: [{ url: url() }, { url: url() }] })
    ).json();
    const id = created.instances[1].id as string;
    await systemPool().query(`UPDATE instances SET next_check_at = now() + interval '1 hour' WHERE id = $1`, [id]);

    const drained = await drain(t.operator, "drainable", id, false);
    expect(drained.status).toBe(200);
    const body = await drained.json();
    expect(body.instances[1]).toMatchObject({ id, enabled: false });
    expect(body.instances[0].enabled).toBe(true);
    const { rows } = await systemPool().query(`SELECT next_check_at <= now() AS due FROM instances WHERE id = $1`, [
      id,
    ]);
    expect(rows[0].due).toBe(true);
    expect(await audits(t.tenantId, "registry.instance_drain")).toBe(1);

    const enabled = await drain(t.admin, "drainable", id, true);
    expect(enabled.status).toBe(200);
    expect((await enabled.json()).instances[1].enabled).toBe(true);
    expect(await audits(t.tenantId, "registry.instance_enable")).toBe(1);
  });

  it("refuses veterans (403), unknown instances (404) and bad bodies (422)", async () => {
    const t = await agencyWithAdmin();
    const created = await (await post(t.admin, { name: "guarded", instances: [{ url: url() }] })).json();
    const id = created.instances[0].id as string;
    const vet = await drain(t.veteran, "guarded", id, false);
    expect(vet.status).toBe(403);
    expect((await problemOf(vet)).code).toBe("role_forbidden");
    expect((await drain(t.operator, "guarded", "6f1c1a52-3a3f-4a4e-9f6a-4d4c7f0f3a11", false)).status).toBe(404);
    expect((await drain(t.operator, "guarded", "not-a-uuid", false)).status).toBe(404);
    expect((await drain(t.operator, "nope", id, false)).status).toBe(404);
    const bad = await callRoute(patchInstance, {
      method: "PATCH",
      path: `/api/v1/services/guarded/instances/${id}`,
      token: t.operator.token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enabled: "no" }),
      params: { name: "guarded", id },
    });
    expect(bad.status).toBe(422);
    expect(await audits(t.tenantId, "registry.instance_drain")).toBe(0);
  });
});
