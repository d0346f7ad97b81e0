import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency, createTenant, createUser, type TestUser } from "@/lib/testing/fixtures";
import { DELETE as deleteRoute, GET as getRoute, PUT as putRoute } from "./route";

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

const path = (tenant: string, query = "") => `/api/v1/tenants/${tenant}/limits${query}`;

function put(user: TestUser | null, tenant: string, body: unknown) {
  return callRoute(putRoute, {
    method: "PUT",
    path: path(tenant),
    token: user?.token,
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    params: { tenant },
  });
}
function get(user: TestUser, tenant: string) {
  return callRoute(getRoute, { path: path(tenant), token: user.token, params: { tenant } });
}
function del(user: TestUser, tenant: string, query = "") {
  return callRoute(deleteRoute, { method: "DELETE", path: path(tenant, query), token: user.token, params: { tenant } });
}

/** Everything a limit write touches, for one tenant: must not move on a refused request. */
async function stateOf(tenant: string) {
  const { rows } = await systemPool().query<{ limits: number; buckets: number; audits: number }>(
    `SELECT (SELECT count(*)::int FROM rate_limits WHERE tenant_id = $1) AS limits,
            (SELECT count(*)::int FROM rate_buckets WHERE tenant_id = $1) AS buckets,
            (SELECT count(*)::int FROM audit_events WHERE tenant_id = $1 AND action LIKE 'ratelimit.%') AS audits`,
    [tenant],
  );
  return rows[0]!;
}

async function bucketTokens(tenant: string, scope: string): Promise<number | null> {
  const { rows } = await systemPool().query<{ tokens: number }>(
    `SELECT tokens FROM rate_buckets WHERE tenant_id = $1 AND scope = $2`,
    [tenant, scope],
  );
  return rows[0]?.tokens ?? null;
}

async function addService(tenant: string, name: string): Promise<void> {
  await systemPool().query(`INSERT INTO services (id, tenant_id, name) VALUES (gen_random_uuid(), $1, $2)`, [
    tenant,
    name,
  ]);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let globalAdmin: TestUser;
beforeAll(async () => {
  globalAdmin = await createUser("admin", null);
});

describe("PUT /api/v1/tenants/<tenant>/limits", () => {
  it("stores the tenant-wide limit, fills its shared bucket, audits it and announces it after the commit", async () => {
    const tenant = await createTenant("lim");
    const listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await listener.connect();
    const heard: string[] = [];
    listener.on("notification", (n) => {
      // read on another connection: the NOTIFY must come after the limit is committed
      void systemPool()
        .query(`SELECT rps FROM rate_limits WHERE tenant_id = $1 AND scope = '*'`, [tenant])
        .then((r) => heard.push(`${n.payload}:${r.rows[0]?.rps ?? "none"}`));
    });
    await listener.query(`LISTEN hms_config`);
    try {
      const res = await put(globalAdmin, tenant, { rps: 12.5, burst: 40 });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toEqual({
        tenant,
        service: null,
        rps: 12.5,
        burst: 40,
        perCaller: null,
        updatedAt: expect.stringMatching(ISO),
        updatedBy: globalAdmin.username,
      });
      expect(await bucketTokens(tenant, "*")).toBe(40);
      await expect.poll(() => heard, { timeout: 2_000 }).toContain(`ratelimit:${tenant}:12.5`);
    } finally {
      await listener.end();
    }

    const { rows } = await systemPool().query(
      `SELECT actor, action, target, outcome, data FROM audit_events WHERE tenant_id = $1 AND action LIKE 'ratelimit.%'`,
      [tenant],
    );
    expect(rows).toEqual([
      {
        actor: globalAdmin.username,
        action: "ratelimit.update",
        target: "*",
        outcome: "success",
        data: { service: null, rps: 12.5, burst: 40, perCaller: null, previous: null },
      },
    ]);
  });

  it("replaces an existing limit, resets the bucket to the new burst and records the previous values", async () => {
    const tenant = await createTenant("lim");
    await put(globalAdmin, tenant, { rps: 5, burst: 10 });
    await systemPool().query(`UPDATE rate_buckets SET tokens = 0 WHERE tenant_id = $1`, [tenant]); // spent
    const res = await put(globalAdmin, tenant, { rps: 20, burst: 30 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ rps: 20, burst: 30 });
    expect(await bucketTokens(tenant, "*")).toBe(30);
    expect(await stateOf(tenant)).toEqual({ limits: 1, buckets: 1, audits: 2 });
    const { rows } = await systemPool().query(
      `SELECT data FROM audit_events WHERE tenant_id = $1 AND action = 'ratelimit.update' ORDER BY id DESC LIMIT 1`,
      [tenant],
    );
    expect(rows[0].data.previous).toEqual({ rps: 5, burst: 10, perCaller: null });
  });

  it("stores a per-service limit for a registered service of the tenant", async () => {
    const tenant = await createTenant("lim");
    await addService(tenant, "doc-review");
    const res = await put(globalAdmin, tenant, { rps: 3, burst: 6, service: "doc-review" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ tenant, service: "doc-review", rps: 3, burst: 6 });
    expect(await bucketTokens(tenant, "doc-review")).toBe(6);
    const { rows } = await systemPool().query(`SELECT target, data FROM audit_events WHERE tenant_id = $1`, [tenant]);
    expect(rows).toEqual([
      { target: "doc-review", data: { service: "doc-review", rps: 3, burst: 6, perCaller: null, previous: null } },
    ]);
  });

  it("stores perCaller with the tenant-wide limit, lists it, audits it, and removes it when a write leaves it out", async () => {
    const a = await createAgency();
    const res = await put(globalAdmin, a.tenantId, { rps: 100, burst: 200, perCaller: { rps: 5, burst: 10 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ service: null, rps: 100, burst: 200, perCaller: { rps: 5, burst: 10 } });
    // a caller's bucket that was spent starts full again when the limit is written
    await systemPool().query(
      `INSERT INTO rate_buckets (tenant_id, scope, tokens, refilled_at) VALUES ($1, 'caller:user:x', 0, now())`,
      [a.tenantId],
    );

    const listed = await (await get(a.operator, a.tenantId)).json();
    expect(listed.items).toEqual([expect.objectContaining({ service: null, perCaller: { rps: 5, burst: 10 } })]);

    const without = await put(globalAdmin, a.tenantId, { rps: 100, burst: 200 });
    expect(await without.json()).toMatchObject({ rps: 100, burst: 200, perCaller: null });
    expect(await bucketTokens(a.tenantId, "caller:user:x")).toBeNull();
    expect((await (await get(globalAdmin, a.tenantId)).json()).items[0].perCaller).toBeNull();

    const { rows } = await systemPool().query(
      `SELECT data FROM audit_events WHERE tenant_id = $1 AND action = 'ratelimit.update' ORDER BY id`,
      [a.tenantId],
    );
    expect(rows.map((r) => r.data)).toEqual([
      { service: null, rps: 100, burst: 200, perCaller: { rps: 5, burst: 10 }, previous: null },
      {
        service: null,
        rps: 100,
        burst: 200,
        perCaller: null,
        previous: { rps: 100, burst: 200, perCaller: { rps: 5, burst: 10 } },
      },
    ]);
  });

  it.each([
    ["rps of 0", { rps: 0, burst: 5 }, "rps"],
    ["a negative rps", { rps: -1, burst: 5 }, "rps"],
    ["rps as a string", { rps: "5", burst: 5 }, "rps"],
    ["rps above 100000", { rps: 100_001, burst: 5 }, "rps"],
    ["a fractional burst", { rps: 5, burst: 1.5 }, "burst"],
    ["a burst of 0", { rps: 5, burst: 0 }, "burst"],
    ["no burst", { rps: 5 }, "burst"],
    ["an unknown key", { rps: 5, burst: 5, brust: 5 }, ""],
    ["a service name that is not a DNS label", { rps: 5, burst: 5, service: "Doc Review" }, "service"],
    ["a service that is not registered", { rps: 5, burst: 5, service: "no-such-service" }, "service"],
    ["a perCaller rps of 0", { rps: 5, burst: 5, perCaller: { rps: 0, burst: 1 } }, "perCaller.rps"],
    ["a fractional perCaller burst", { rps: 5, burst: 5, perCaller: { rps: 1, burst: 0.5 } }, "perCaller.burst"],
    ["a perCaller without burst", { rps: 5, burst: 5, perCaller: { rps: 1 } }, "perCaller.burst"],
    ["an unknown key in perCaller", { rps: 5, burst: 5, perCaller: { rps: 1, burst: 1, brust: 1 } }, "perCaller"],
    [
      "perCaller on a per-service limit",
      { rps: 5, burst: 5, service: "doc-review", perCaller: { rps: 1, burst: 1 } },
      "perCaller",
    ],
  ])("refuses %s with 422 validation_failed naming the field, and changes nothing", async (_, body, field) => {
    const tenant = await createTenant("lim");
    const res = await put(globalAdmin, tenant, body);
    expect(res.status).toBe(422);
    const problem = (await problemOf(res)) as Problem;
    expect(problem.code).toBe("validation_failed");
    expect(problem.errors?.map((e) => e.path)).toContain(field);
    expect(await stateOf(tenant)).toEqual({ limits: 0, buckets: 0, audits: 0 });
  });

  it("refuses broken JSON with 400 invalid_json", async () => {
    const tenant = await createTenant("lim");
    const res = await put(globalAdmin, tenant, "{ rps: 5");
    expect(res.status).toBe(400);
    expect((await problemOf(res)).code).toBe("invalid_json");
    expect(await stateOf(tenant)).toEqual({ limits: 0, buckets: 0, audits: 0 });
  });

  it("lets a tenant's admin change its own tenant only, and no one but admins", async () => {
    const a = await createAgency();
    const b = await createAgency();
    const adminA = await createUser("admin", a.tenantId);

    expect((await put(adminA, a.tenantId, { rps: 5, burst: 5 })).status).toBe(200);

    const other = await put(adminA, b.tenantId, { rps: 5, burst: 5 });
    expect(other.status).toBe(404);
    expect((await problemOf(other)).code).toBe("not_found");
    // the same answer whether the other tenant exists or not
    const ghost = await put(adminA, "no-such-agency", { rps: 5, burst: 5 });
    expect(ghost.status).toBe(404);
    expect((await problemOf(ghost)).code).toBe("not_found");

    const byOperator = await put(a.operator, a.tenantId, { rps: 1, burst: 1 });
    expect(byOperator.status).toBe(403);
    expect((await problemOf(byOperator)).code).toBe("role_forbidden");

    const anonymous = await put(null, a.tenantId, { rps: 1, burst: 1 });
    expect(anonymous.status).toBe(401);

    expect(await stateOf(b.tenantId)).toEqual({ limits: 0, buckets: 0, audits: 0 });
    expect(await stateOf(a.tenantId)).toEqual({ limits: 1, buckets: 1, audits: 1 });
    expect((await systemPool().query(`SELECT rps FROM rate_limits WHERE tenant_id = $1`, [a.tenantId])).rows).toEqual([
      { rps: 5 },
    ]);
  });

  it("answers 404 not_found to a global admin naming a tenant that does not exist", async () => {
    const res = await put(globalAdmin, "no-such-agency", { rps: 5, burst: 5 });
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe("not_found");
  });
});

describe("GET /api/v1/tenants/<tenant>/limits", () => {
  it("lists the tenant-wide limit first, to admins and to the tenant's operators only", async () => {
    const a = await createAgency();
    const b = await createAgency();
    await addService(a.tenantId, "zeta");
    await addService(a.tenantId, "alpha");
    await put(globalAdmin, a.tenantId, { rps: 2, burst: 4, service: "zeta" });
    await put(globalAdmin, a.tenantId, { rps: 50, burst: 100 });
    await put(globalAdmin, a.tenantId, { rps: 1, burst: 1, service: "alpha" });

    for (const who of [globalAdmin, a.operator]) {
      const res = await get(who, a.tenantId);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.nextCursor).toBeNull();
      expect(body.items.map((i: { service: string | null; rps: number }) => [i.service, i.rps])).toEqual([
        [null, 50],
        ["alpha", 1],
        ["zeta", 2],
      ]);
    }

    const otherOperator = await get(b.operator, a.tenantId);
    expect(otherOperator.status).toBe(404);
    expect((await problemOf(otherOperator)).code).toBe("not_found");
    const veteran = await get(a.veteran, a.tenantId);
    expect(veteran.status).toBe(403);
    expect((await problemOf(veteran)).code).toBe("role_forbidden");
  });

  it("answers an empty list for a tenant without limits (it is unlimited)", async () => {
    const tenant = await createTenant("lim");
    const res = await get(globalAdmin, tenant);
    expect(await res.json()).toEqual({ items: [], nextCursor: null });
  });
});

describe("DELETE /api/v1/tenants/<tenant>/limits", () => {
  it("removes a per-service or the tenant-wide limit with its bucket, audited; 404 when there is none", async () => {
    const tenant = await createTenant("lim");
    await addService(tenant, "doc-review");
    await put(globalAdmin, tenant, { rps: 50, burst: 100 });
    await put(globalAdmin, tenant, { rps: 3, burst: 6, service: "doc-review" });

    const svc = await del(globalAdmin, tenant, "?service=doc-review");
    expect(svc.status).toBe(204);
    expect(await bucketTokens(tenant, "doc-review")).toBeNull();
    expect(await bucketTokens(tenant, "*")).toBe(100);

    expect((await del(globalAdmin, tenant)).status).toBe(204);
    expect(await stateOf(tenant)).toEqual({ limits: 0, buckets: 0, audits: 4 });
    const { rows } = await systemPool().query(
      `SELECT target, data FROM audit_events WHERE tenant_id = $1 AND action = 'ratelimit.delete' ORDER BY id`,
      [tenant],
    );
    expect(rows).toEqual([
      { target: "doc-review", data: { service: "doc-review", previous: { rps: 3, burst: 6, perCaller: null } } },
      { target: "*", data: { service: null, previous: { rps: 50, burst: 100, perCaller: null } } },
    ]);

    const again = await del(globalAdmin, tenant);
    expect(again.status).toBe(404);
    expect((await problemOf(again)).code).toBe("not_found");
    expect(await stateOf(tenant)).toEqual({ limits: 0, buckets: 0, audits: 4 });
  });

  it("refuses operators and other tenants' admins, changing nothing", async () => {
    const a = await createAgency();
    const adminB = await createUser("admin", (await createAgency()).tenantId);
    await put(globalAdmin, a.tenantId, { rps: 5, burst: 5 });

    const byOperator = await del(a.operator, a.tenantId);
    expect((await problemOf(byOperator)).code).toBe("role_forbidden");
    const byOtherAdmin = await del(adminB, a.tenantId);
    expect((await problemOf(byOtherAdmin)).code).toBe("not_found");
    expect(await stateOf(a.tenantId)).toEqual({ limits: 1, buckets: 1, audits: 1 });
  });
});
