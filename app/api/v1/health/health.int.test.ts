import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { PROBE_LOOP } from "@/lib/health/health-report";
import { createHealthService, type TestService } from "@/lib/health/test-fixtures";
import { startUpstream, type Upstream } from "@/lib/health/test-upstream";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createTenant, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as healthAlias } from "@/app/health/route";
import { POST as postProbe } from "@/app/api/v1/probe/route";
import { GET as getFailures } from "@/app/api/v1/services/[name]/failures/route";
import { GET as getHistory } from "@/app/api/v1/services/[name]/history/route";
import { GET as getHealth } from "./route";

process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";

let tenantA: string;
let tenantB: string;
let opA: TestUser;
let vetA: TestUser;
let opB: TestUser;
let globalAdmin: TestUser;
let adminA: TestUser;
let green: TestService;
let red: TestService;
let maint: TestService;
let other: TestService;
let up: Upstream;

async function setStatus(svc: TestService, status: string, reason: string | null, maintenance = false) {
  await systemPool().query(`UPDATE services SET status = $2, status_reason = $3, maintenance = $4 WHERE id = $1`, [
    svc.id,
    status,
    reason,
    maintenance,
  ]);
}
async function freshHeartbeat() {
  await systemPool().query(
    `INSERT INTO worker_heartbeats (worker_id, loop, hostname, last_completed_at) VALUES ('test-worker', $1, 'test', now())
     ON CONFLICT (worker_id, loop) DO UPDATE SET last_completed_at = now()`,
    [PROBE_LOOP],
  );
}
async function staleHeartbeats() {
  await systemPool().query(
    `UPDATE worker_heartbeats SET last_completed_at = now() - interval '10 minutes' WHERE loop = $1`,
    [PROBE_LOOP],
  );
}

beforeAll(async () => {
  tenantA = await createTenant("ha");
  tenantB = await createTenant("hb");
  opA = await createUser("operator", tenantA);
  vetA = await createUser("veteran", tenantA);
  opB = await createUser("operator", tenantB);
  adminA = await createUser("admin", tenantA);
  globalAdmin = await createUser("admin", null);
  up = await startUpstream();
  const never = "never" as const;
  green = await createHealthService(systemPool(), tenantA, { name: "alpha" }, [
    { url: "http://127.0.0.1:9/a", nextCheck: never },
    { url: "http://127.0.0.1:9/b", region: "secondary", nextCheck: never },
    { url: "http://127.0.0.1:9/c", enabled: false, nextCheck: never },
  ]);
  red = await createHealthService(systemPool(), tenantA, { name: "bravo" }, [
    { url: "http://127.0.0.1:9/r", nextCheck: never },
  ]);
  maint = await createHealthService(systemPool(), tenantA, { name: "charlie" }, [
    { url: "http://127.0.0.1:9/m", nextCheck: never },
  ]);
  other = await createHealthService(systemPool(), tenantB, { name: "secret-b" }, [
    { url: "http://127.0.0.1:9/s", nextCheck: never },
  ]);
  await systemPool().query(
    `UPDATE instances SET status = 'green', last_checked_at = now() - interval '5 seconds' WHERE service_id = $1`,
    [green.id],
  );
  await setStatus(green, "green", null);
  await setStatus(
    red,
    "red",
    "no instance can take traffic: 1 of 1 instance red (primary: connection refused (3 consecutive failures))",
  );
  await setStatus(maint, "red", "down for maintenance", true);
  await setStatus(other, "green", null);
  await freshHeartbeat();
});
afterAll(async () => {
  await up.close();
});

describe("GET /health", () => {
  it("answers anyone with the overall status and no tenant data", async () => {
    const res = await callRoute(getHealth, { path: "/api/v1/health" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await res.json();
    expect(Object.keys(body).sort()).toEqual(["reason", "services", "status", "worker"]);
    expect(["green", "yellow", "red"]).toContain(body.status);
    expect(body.services).toEqual([]);
    expect(body.worker).toMatchObject({ stale: false, lastLoopAt: expect.any(String) });
    const text = JSON.stringify(body);
    for (const secret of [tenantA, tenantB, "alpha", "bravo", "secret-b", "connection refused"]) {
      expect(text).not.toContain(secret);
    }
    // this database has a red service (bravo), so the overall is red, explained by counts only
    expect(body.status).toBe("red");
    expect(body.reason).toMatch(/\d+ services? red/);
  });

  it("treats a bad token like no token: 200, no tenant data", async () => {
    const res = await callRoute(getHealth, { path: "/api/v1/health", token: "not-a-jwt" });
    expect(res.status).toBe(200);
    expect((await res.json()).services).toEqual([]);
  });

  it("shows a token holder their own tenant's services only, worst first, maintenance last", async () => {
    for (const user of [opA, vetA, adminA]) {
      const res = await callRoute(getHealth, { path: "/api/v1/health", token: user.token });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.services.map((s: { name: string }) => s.name)).toEqual(["bravo", "alpha", "charlie"]);
      expect(body.status).toBe("red");
      expect(body.reason).toBe("1 service red");
      expect(body.services[1]).toEqual({
        name: "alpha",
        tenant: tenantA,
        status: "green",
        reason: null,
        maintenance: false,
        statusChangedAt: null,
        instances: { healthy: 2, total: 3, drained: 1 },
        checkedAt: expect.any(String),
      });
      expect(body.services[2]).toMatchObject({ name: "charlie", status: "red", maintenance: true });
    }
    const b = await (await callRoute(getHealth, { path: "/api/v1/health", token: opB.token })).json();
    expect(b.services.map((s: { name: string }) => s.name)).toEqual(["secret-b"]);
    expect(b.status).toBe("green");
  });

  it("ignores ?tenant= naming another tenant for a tenant-bound caller (nothing shown)", async () => {
    const body = await (
      await callRoute(getHealth, { path: `/api/v1/health?tenant=${tenantB}`, token: opA.token })
    ).json();
    expect(body.services).toEqual([]);
  });

  it("shows a global admin every tenant, or one with ?tenant=", async () => {
    const all = await (await callRoute(getHealth, { path: "/api/v1/health", token: globalAdmin.token })).json();
    const names = all.services.map((s: { tenant: string; name: string }) => `${s.tenant}/${s.name}`);
    expect(names).toEqual(expect.arrayContaining([`${tenantA}/alpha`, `${tenantA}/bravo`, `${tenantB}/secret-b`]));
    const one = await (
      await callRoute(getHealth, { path: `/health?tenant=${tenantB}`, token: globalAdmin.token })
    ).json();
    expect(one.services.map((s: { name: string }) => s.name)).toEqual(["secret-b"]);
  });

  it("leaves services in maintenance out of the overall status", async () => {
    await setStatus(red, "green", null);
    try {
      const body = await (await callRoute(getHealth, { path: "/api/v1/health", token: opA.token })).json();
      expect(body).toMatchObject({ status: "green", reason: null });
    } finally {
      await setStatus(red, "red", "no instance can take traffic");
    }
  });

  it("turns at least yellow, saying why, when the probe loop has not completed recently", async () => {
    await setStatus(red, "green", null);
    try {
      await staleHeartbeats();
      const body = await (await callRoute(getHealth, { path: "/api/v1/health", token: opA.token })).json();
      expect(body.status).toBe("yellow");
      expect(body.worker).toMatchObject({ stale: true, staleAfterSeconds: 30 });
      expect(body.reason).toMatch(/^health checks are not running \(last probe loop \S+Z, \d+ s ago\)$/);
      const anon = await (await callRoute(getHealth, { path: "/api/v1/health" })).json();
      expect(anon.worker.stale).toBe(true);
      expect(anon.status).not.toBe("green");

      await freshHeartbeat();
      const after = await (await callRoute(getHealth, { path: "/api/v1/health", token: opA.token })).json();
      expect(after).toMatchObject({ status: "green", reason: null, worker: { stale: false } });
    } finally {
      await freshHeartbeat();
      await setStatus(red, "red", "no instance can take traffic");
    }
  });

  it("is served at the /health alias too", async () => {
    const res = await callRoute(healthAlias, { path: "/health", token: opA.token });
    expect(res.status).toBe(200);
    expect((await res.json()).services).toHaveLength(3);
  });
});

describe("GET /api/v1/services/<name>/history", () => {
  const hist = (name: string, user: TestUser | null, query = "") =>
    callRoute(getHistory, { path: `/api/v1/services/${name}/history${query}`, token: user?.token, params: { name } });

  beforeAll(async () => {
    // minute 0 = the current minute; 3 and 20 minutes ago; 2 days ago (only in 7d)
    const [a, b] = green.instanceIds;
    await systemPool().query(
      `INSERT INTO health_rollups (instance_id, minute, service_id, tenant_id, passes, warns, fails, latency_sum_ms, latency_max_ms, latency_buckets)
       VALUES ($1, date_trunc('minute', now()), $3, $4, 6, 0, 0, 120, 30, '{0,4,2,0,0,0,0,0,0,0}'),
              ($2, date_trunc('minute', now()), $3, $4, 5, 1, 0, 900, 400, '{0,0,0,0,0,6,0,0,0,0}'),
              ($1, date_trunc('minute', now()) - interval '3 minutes', $3, $4, 4, 0, 2, 80, 20, '{2,2,0,0,0,0,0,0,0,0}'),
              ($1, date_trunc('minute', now()) - interval '20 minutes', $3, $4, 6, 0, 0, 60, 10, '{6,0,0,0,0,0,0,0,0,0}'),
              ($1, date_trunc('minute', now()) - interval '2 days', $3, $4, 1, 0, 5, 10, 10, '{1,0,0,0,0,0,0,0,0,0}')`,
      [a, b, green.id, tenantA],
    );
  });

  it("answers one point per minute for 15m, zero-filled, the current minute last", async () => {
    const res = await hist("alpha", opA, "?range=15m");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ service: "alpha", tenant: tenantA, range: "15m", bucketSeconds: 60 });
    expect(body.points).toHaveLength(15);
    const last = body.points[14];
    expect(new Date(last.minute).getTime() % 60_000).toBe(0);
    expect(last).toMatchObject({ passes: 11, warns: 1, fails: 0 });
    expect(last.p95LatencyMs).toBeGreaterThan(250);
    expect(last.p95LatencyMs).toBeLessThanOrEqual(400);
    expect(body.points[11]).toMatchObject({ passes: 4, fails: 2 });
    expect(body.points[0]).toEqual({ minute: expect.any(String), passes: 0, warns: 0, fails: 0, p95LatencyMs: null });
    const total = body.points.reduce((n: number, p: { passes: number }) => n + p.passes, 0);
    expect(total).toBe(15); // the point 20 minutes ago is outside the range
  });

  it("buckets 1h by minute, 24h by 5 minutes and 7d by hour (never more than 300 points)", async () => {
    const h1 = await (await hist("alpha", opA, "?range=1h")).json();
    expect(h1.points).toHaveLength(60);
    const d1 = await (await hist("alpha", opA, "?range=24h")).json();
    expect(d1).toMatchObject({ bucketSeconds: 300 });
    expect(d1.points).toHaveLength(288);
    expect(d1.points.reduce((n: number, p: { passes: number }) => n + p.passes, 0)).toBe(21);
    const w = await (await hist("alpha", opA, "?range=7d")).json();
    expect(w).toMatchObject({ bucketSeconds: 3600 });
    expect(w.points).toHaveLength(168);
    expect(w.points.reduce((n: number, p: { fails: number }) => n + p.fails, 0)).toBe(7);
    const dflt = await (await hist("alpha", opA)).json();
    expect(dflt.range).toBe("1h");
  });

  it("refuses an unknown range with 422", async () => {
    const p = await problemOf(await hist("alpha", opA, "?range=1y"));
    expect(p).toMatchObject({ status: 422, code: "validation_failed" });
  });

  it("is tenant-scoped: another tenant's service is 404, veterans 403, global admins may name the tenant", async () => {
    expect((await problemOf(await hist("secret-b", opA))).status).toBe(404);
    expect((await problemOf(await hist("alpha", opB))).status).toBe(404);
    expect((await problemOf(await hist("alpha", opB, `?tenant=${tenantA}`))).status).toBe(404);
    expect((await problemOf(await hist("alpha", vetA))).code).toBe("role_forbidden");
    expect((await problemOf(await hist("alpha", null))).status).toBe(401);
    const res = await hist("alpha", globalAdmin, `?tenant=${tenantA}`);
    expect(res.status).toBe(200);
  });
});

describe("GET /api/v1/services/<name>/failures", () => {
  const fails = (name: string, user: TestUser | null, query = "") =>
    callRoute(getFailures, { path: `/api/v1/services/${name}/failures${query}`, token: user?.token, params: { name } });

  it("lists the last 20 failed checks newest first, with the instance's URL and region", async () => {
    const a = red.instanceIds[0]!;
    await systemPool().query(
      `INSERT INTO health_checks (instance_id, service_id, tenant_id, at, outcome, http_status, latency_ms, error, worker_id)
       SELECT $1, $2, $3, now() - make_interval(secs => n), CASE WHEN n % 2 = 0 THEN 'pass' ELSE 'fail' END,
              CASE WHEN n % 3 = 0 THEN 503 END, n, CASE WHEN n % 2 = 1 THEN 'HTTP 503 #' || n END, 'w'
         FROM generate_series(1, 60) n`,
      [a, red.id, tenantA],
    );
    const res = await fails("bravo", opA);
    expect(res.status).toBe(200);
    const { items } = await res.json();
    expect(items).toHaveLength(20);
    expect(items[0]).toEqual({
      at: expect.any(String),
      instanceId: a,
      url: "http://127.0.0.1:9/r",
      region: "primary",
      httpStatus: null,
      latencyMs: 1,
      error: "HTTP 503 #1",
    });
    expect(items[1]).toMatchObject({ httpStatus: 503, latencyMs: 3 });
    expect(items.map((i: { latencyMs: number }) => i.latencyMs)).toEqual(
      Array.from({ length: 20 }, (_, i) => 2 * i + 1),
    );
    expect((await (await fails("alpha", opA)).json()).items).toEqual([]);
  });

  it("is tenant-scoped like history", async () => {
    expect((await problemOf(await fails("bravo", opB))).status).toBe(404);
    expect((await problemOf(await fails("bravo", vetA))).status).toBe(403);
    expect((await fails("bravo", globalAdmin, `?tenant=${tenantA}`)).status).toBe(200);
  });
});

describe("POST /api/v1/probe", () => {
  const probe = (body: unknown, user: TestUser | null = adminA) =>
    callRoute(postProbe, {
      method: "POST",
      path: "/api/v1/probe",
      token: user?.token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("probes a URL once and reports the outcome", async () => {
    up.set({ kind: "ok" });
    const res = await probe({ url: up.url });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      url: `${up.url}/health`,
      outcome: "pass",
      reason: null,
      httpStatus: 200,
      latencyMs: expect.any(Number),
    });
    up.set({ kind: "health", healthStatus: "warn", output: "cold cache" });
    expect(await (await probe({ url: up.url, healthPath: "/ready" })).json()).toMatchObject({
      url: `${up.url}/ready`,
      outcome: "warn",
      reason: 'reports "warn": cold cache',
    });
    up.set({ kind: "slow", delayMs: 120 });
    expect(await (await probe({ url: up.url, latencyBudgetMs: 50 })).json()).toMatchObject({
      outcome: "warn",
      reason: expect.stringMatching(/^slow: \d+ ms > 50 ms budget$/),
    });
    up.set({ kind: "hang" });
    expect(await (await probe({ url: up.url, timeoutMs: 200 })).json()).toMatchObject({
      outcome: "fail",
      reason: "timeout after 200 ms",
      httpStatus: null,
    });
    up.set({ kind: "ok" });
  });

  it("reports an unreachable target as a failed probe, not an error", async () => {
    const gone = await startUpstream();
    await gone.close();
    const res = await probe({ url: gone.url });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "fail", reason: "connection refused" });
  });

  it("refuses SSRF targets with 422 problem+json and never connects", async () => {
    for (const [url, code] of [
      ["http://169.254.169.254/latest/meta-data", "ssrf_link_local"],
      ["http://10.1.2.3", "ssrf_private"],
      ["http://[::1]:9", "ssrf_loopback"],
      ["ftp://example.com", "url_scheme_not_allowed"],
      ["http://user:pw@example.com", "url_credentials_not_allowed"],
      ["not a url", "url_invalid"],
    ] as const) {
      const p = await problemOf(await probe({ url }));
      expect([url, p.status, p.code]).toEqual([url, 422, code]);
    }
  });

  it("refuses loopback when the allow-list does not cover it", async () => {
    const saved = process.env.HMS_ALLOW_PRIVATE_NETWORKS;
    delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
    const hits = up.totalHits();
    try {
      const p = await problemOf(await probe({ url: up.url }));
      expect(p).toMatchObject({ status: 422, code: "ssrf_loopback" });
      expect(up.totalHits()).toBe(hits);
    } finally {
      process.env.HMS_ALLOW_PRIVATE_NETWORKS = saved;
    }
  });

  it("is for admins only and validates its body", async () => {
    expect((await problemOf(await probe({ url: up.url }, opA))).code).toBe("role_forbidden");
    expect((await problemOf(await probe({ url: up.url }, null))).status).toBe(401);
    const bad = await problemOf(await probe({ url: up.url, healthPath: "//evil.example/x", timeoutMs: 0 }));
    expect(bad).toMatchObject({ status: 422, code: "validation_failed" });
    expect((await problemOf(await probe({ url: up.url, extra: 1 }))).status).toBe(422);
  });
});
