import { createHash } from "node:crypto";
import http from "node:http";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicJwks } from "../auth/signing-keys";
import { forceCircuit } from "../circuit/circuit-store";
import { createPool, systemPool } from "../db/pool";
import { rateLimitedProblem, rateLimitHeaders } from "../ratelimit/rate-limit-headers";
import { SharedRateLimiter, type RateDecision } from "../ratelimit/shared-limiter";
import { createHealthService, type InstanceSpec } from "../health/test-fixtures";
import { startUpstream, type Upstream } from "../health/test-upstream";
import { createAgency, createTenant, createUser, type TestUser } from "../testing/fixtures";
import { identityAudience } from "./identity-token";
import { startTestGateway, type TestGateway } from "./test-gateway";
import { until } from "../testing/poll";

/**
 * The gateway against real upstreams on 127.0.0.1 and the real database: forwarding, header
 * policy, balancing, breakers, failover, forced states, replicas converging, timeouts, streaming.
 * Calls are made as operators: by default a service lets no veterans in (gateway-access.int.test.ts).
 */
const db = () => systemPool();

async function gatewayService(
  tenantId: string,
  instances: InstanceSpec[],
  settings: Record<string, number | boolean> = {},
  weights: number[] = [],
) {
  const svc = await createHealthService(
    db(),
    tenantId,
    {},
    instances.map((i) => ({ nextCheck: "never", ...i })),
  );
  const cols: Record<string, string> = {
    gatewayTimeoutMs: "gateway_timeout_ms",
    forwardIdentity: "forward_identity",
    openSeconds: "breaker_open_seconds",
    consecutiveFailures: "breaker_consecutive_failures",
    minCalls: "breaker_min_calls",
    halfOpenCalls: "breaker_half_open_calls",
  };
  for (const [k, v] of Object.entries(settings)) {
    await db().query(`UPDATE services SET ${cols[k]} = $2 WHERE id = $1`, [svc.id, v]);
  }
  for (const [n, w] of weights.entries()) {
    await db().query(`UPDATE instances SET weight = $2 WHERE id = $1`, [svc.instanceIds[n], w]);
  }
  return svc;
}

async function call(
  gw: TestGateway<never> | { url: string },
  user: TestUser,
  service: string,
  path = "/",
  init: RequestInit = {},
) {
  return fetch(`${gw.url}/api/v1/gw/${service}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${user.token}`, ...(init.headers as Record<string, string>) },
  });
}

async function echoOf(r: Response) {
  return (await r.json()) as {
    method: string;
    url: string;
    headers: Record<string, string>;
    bodyBytes: number;
    sha256: string;
    port: number;
  };
}

let gw: TestGateway<never>;
const upstreams: Upstream[] = [];
async function upstream(kind: "echo" | "ok" = "echo"): Promise<Upstream> {
  const u = await startUpstream(kind === "echo" ? { kind: "echo" } : { kind: "ok" });
  upstreams.push(u);
  return u;
}

beforeAll(async () => {
  gw = await startTestGateway<never>();
});
afterAll(async () => {
  await gw.close();
  await Promise.all(upstreams.map((u) => u.close().catch(() => {})));
});

describe("forwarding", () => {
  it("forwards method, path, query and body to the instance and streams the answer back", async () => {
    const a = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: `${u.url}/base` }]);
    const r = await call(gw, a.operator, svc.name, "/claims/7?x=1&y=%20z", {
      method: "PUT",
      body: "hello",
      headers: { "content-type": "text/plain" },
    });
    expect(r.status).toBe(200);
    const echo = await echoOf(r);
    expect(echo.method).toBe("PUT");
    expect(echo.url).toBe("/base/claims/7?x=1&y=%20z");
    expect(echo.bodyBytes).toBe(5);
    expect(echo.headers["content-type"]).toBe("text/plain");
    expect(r.headers.get("x-hms-region")).toBe("primary");
  });

  it("continues the caller's trace with a new span, and passes x-request-id", async () => {
    const a = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }]);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const r = await call(gw, a.operator, svc.name, "/", {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, "x-request-id": "req-123" },
    });
    const echo = await echoOf(r);
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(echo.headers.traceparent ?? "");
    expect(m?.[1]).toBe(traceId);
    expect(m?.[2]).not.toBe("00f067aa0ba902b7");
    expect(echo.headers["x-request-id"]).toBe("req-123");
    expect(r.headers.get("x-request-id")).toBe("req-123");
  });

  it("starts a trace when the caller sends none (or a malformed one)", async () => {
    const a = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }]);
    const r = await call(gw, a.operator, svc.name, "/", { headers: { traceparent: "00-zz-bad-01" } });
    const echo = await echoOf(r);
    expect(echo.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(echo.headers["x-request-id"]).toBe(echo.headers.traceparent!.slice(3, 35));
  });

  it("strips credentials, hop-by-hop headers, headers named by Connection, and x-hms-* from the caller", async () => {
    const a = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }]);
    // fetch refuses to send some hop-by-hop headers itself; use node:http to send them all.
    const target = new URL(`${gw.url}/api/v1/gw/${svc.name}/h`);
    const echo = await new Promise<{ headers: Record<string, string> }>((resolve, reject) => {
      const req = http.request(
        {
          hostname: target.hostname,
          port: target.port,
          path: target.pathname,
          headers: {
            authorization: `Bearer ${a.operator.token}`,
            cookie: "next-auth.session-token=secret",
            "proxy-authorization": "Basic eA==",
            connection: "keep-alive, x-secret-hop",
            "x-secret-hop": "1",
            te: "trailers",
            "keep-alive": "timeout=5",
            "x-hms-tenant": "agency-b",
            "x-forwarded-for": "6.6.6.6",
            "x-custom": "kept",
          },
        },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve(JSON.parse(body) as { headers: Record<string, string> }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    const h = echo.headers;
    for (const gone of [
      "authorization",
      "cookie",
      "proxy-authorization",
      "x-secret-hop",
      "te",
      "keep-alive",
      "x-hms-tenant",
    ]) {
      expect(h[gone], gone).toBeUndefined();
    }
    expect(h["x-custom"]).toBe("kept");
    expect(h["x-forwarded-for"]).toBe("127.0.0.1"); // ours, not the caller's claim
    expect(h["x-forwarded-proto"]).toBe("http");
  });

  it("sends a short-lived token for the service (not the caller's) when the service wants the identity", async () => {
    const a = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }], { forwardIdentity: true });
    const echo = await echoOf(await call(gw, a.operator, svc.name, "/"));
    const token = /^Bearer (.+)$/.exec(echo.headers.authorization ?? "")?.[1];
    expect(token).toBeDefined();
    expect(token).not.toBe(a.operator.token);
    const jwks = createLocalJWKSet(await publicJwks());
    const { payload } = await jwtVerify(token!, jwks, { audience: identityAudience(a.tenantId, svc.name) });
    expect(payload.sub).toBe(a.operator.userId);
    expect(payload.tenant).toBe(a.tenantId);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
    // The caller's own audience is not accepted by that token's audience, and vice versa.
    expect(decodeJwt(a.operator.token).aud).not.toBe(payload.aud);
  });

  it("answers 401 without a token, 404 for an unknown service and for another tenant's service", async () => {
    const a = await createAgency();
    const b = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }]);
    const none = await fetch(`${gw.url}/api/v1/gw/${svc.name}/`);
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toBe("application/problem+json");
    expect(((await none.json()) as { code: string }).code).toBe("token_missing");
    const other = await call(gw, b.operator, svc.name);
    expect(other.status).toBe(404);
    const unknown = await call(gw, a.operator, "no-such-service");
    expect(unknown.status).toBe(404);
    // Same answer for both: no existence oracle across tenants.
    const [p1, p2] = [(await other.json()) as { code: string }, (await unknown.json()) as { code: string }];
    expect(p1.code).toBe("not_found");
    expect(p2.code).toBe("not_found");
    expect(u.totalHits()).toBe(0);
  });

  it("times out per service with 504 problem+json", async () => {
    const a = await createAgency();
    const u = await startUpstream({ kind: "hang" });
    upstreams.push(u);
    const svc = await gatewayService(a.tenantId, [{ url: u.url }], { gatewayTimeoutMs: 300 });
    const started = performance.now();
    const r = await call(gw, a.operator, svc.name);
    expect(r.status).toBe(504);
    expect(((await r.json()) as { code: string }).code).toBe("upstream_timeout");
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe("load balancing", () => {
  it("splits by weight (3:1) and sends nothing to a drained or red instance", async () => {
    const a = await createAgency();
    const [u1, u2, drained, red] = [await upstream(), await upstream(), await upstream(), await upstream()];
    const svc = await gatewayService(
      a.tenantId,
      [{ url: u1.url }, { url: u2.url }, { url: drained.url, enabled: false }, { url: red.url }],
      {},
      [3, 1, 1, 1],
    );
    await db().query(`UPDATE instances SET status = 'red' WHERE id = $1`, [svc.instanceIds[3]]);
    for (let i = 0; i < 40; i++) expect((await call(gw, a.operator, svc.name)).status).toBe(200);
    expect(u1.totalHits()).toBe(30);
    expect(u2.totalHits()).toBe(10);
    expect(drained.totalHits()).toBe(0);
    expect(red.totalHits()).toBe(0);
  });
});

describe("circuit breakers and failover", () => {
  it("opens after 5 consecutive failures, stores and announces it, and stops sending to that instance", async () => {
    const a = await createAgency();
    const bad = await startUpstream({ kind: "status", status: 500 });
    upstreams.push(bad);
    const good = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: bad.url }, { url: good.url }]);
    for (let i = 0; i < 10; i++) await call(gw, a.operator, svc.name);
    await gw.gateway.sync.settled();
    expect(bad.totalHits()).toBe(5); // then the breaker opened: the rest went to the good one
    const { rows } = await db().query<{ state: string; reason: string; version: string }>(
      `SELECT state, reason, version FROM circuits WHERE instance_id = $1`,
      [svc.instanceIds[0]],
    );
    expect(rows[0]).toMatchObject({ state: "open", reason: "5 consecutive failures" });
    const ev = await db().query(`SELECT from_state, to_state FROM circuit_events WHERE instance_id = $1`, [
      svc.instanceIds[0],
    ]);
    expect(ev.rows).toEqual([{ from_state: "closed", to_state: "open" }]);
    for (let i = 0; i < 10; i++) expect((await call(gw, a.operator, svc.name)).status).toBe(200);
    expect(bad.totalHits()).toBe(5);
  });

  it("goes half-open after the open period, closes on successful trials, and backs off when a trial fails", async () => {
    const a = await createAgency();
    const u = await startUpstream({ kind: "status", status: 503 });
    upstreams.push(u);
    const spare = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }, { url: spare.url }], {
      openSeconds: 1,
      halfOpenCalls: 2,
    });
    for (let i = 0; i < 12; i++) await call(gw, a.operator, svc.name);
    await gw.gateway.sync.settled();
    const inst = gw.gateway.table.instance(svc.instanceIds[0]!)!;
    expect(inst.breaker.state).toBe("open");
    const firstOpen = inst.breaker.openUntil! - inst.breaker.since;
    expect(firstOpen).toBe(1_000);

    // Still failing when the trial comes: open again, twice as long (back-off).
    await until(() => Date.now() >= inst.breaker.openUntil!, 2_000);
    const hitsBefore = u.totalHits();
    await call(gw, a.operator, svc.name);
    expect(u.totalHits()).toBe(hitsBefore + 1); // the trial went to the half-open instance
    expect(inst.breaker.state).toBe("open");
    expect(inst.breaker.openUntil! - inst.breaker.since).toBe(2_000);
    expect(inst.breaker.tripStreak).toBe(2);

    // Recovered: two successful trials close it.
    u.set({ kind: "echo" });
    await until(() => Date.now() >= inst.breaker.openUntil!, 3_000);
    for (let i = 0; i < 2; i++) expect((await call(gw, a.operator, svc.name)).status).toBe(200);
    expect(inst.breaker.state).toBe("closed");
    await gw.gateway.sync.settled();
    const ev = await db().query<{ to_state: string }>(
      `SELECT to_state FROM circuit_events WHERE instance_id = $1 ORDER BY id`,
      [svc.instanceIds[0]],
    );
    expect(ev.rows.map((r) => r.to_state)).toEqual(["open", "open", "closed"]);
  });

  it("fails over to the secondary region when the primary dies, without failing a GET, and fails back", async () => {
    const a = await createAgency();
    const p = await upstream();
    const s = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: p.url }, { url: s.url, region: "secondary" }], {
      openSeconds: 1,
      halfOpenCalls: 1,
    });
    const r0 = await call(gw, a.operator, svc.name);
    expect(r0.headers.get("x-hms-region")).toBe("primary");
    await p.down();
    const statuses: number[] = [];
    const regions: (string | null)[] = [];
    const failovers: (string | null)[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await call(gw, a.operator, svc.name);
      statuses.push(r.status);
      regions.push(r.headers.get("x-hms-region"));
      failovers.push(r.headers.get("x-hms-failover"));
    }
    // Connection refused before any answer: retried on the secondary, so no caller saw a failure;
    // each answer says it came from elsewhere — first as a retry, then as the region's failover.
    expect(statuses.every((x) => x === 200)).toBe(true);
    expect(regions.every((x) => x === "secondary")).toBe(true);
    // (a kept-alive socket to the dead primary resets; a new one is refused)
    expect(failovers[0]).toMatch(/^retried in secondary after ECONN(RESET|REFUSED) in primary$/);
    expect(failovers.every((f) => f !== null)).toBe(true);
    const inst = gw.gateway.table.instance(svc.instanceIds[0]!)!;
    expect(inst.breaker.state).toBe("open");
    const r = await call(gw, a.operator, svc.name);
    expect(r.headers.get("x-hms-failover")).toMatch(/failover to secondary/);

    await p.up();
    await until(() => Date.now() >= inst.breaker.openUntil!, 3_000);
    const back = await call(gw, a.operator, svc.name);
    expect(back.headers.get("x-hms-region")).toBe("primary"); // the trial call
    expect(inst.breaker.state).toBe("closed");
    const after = await call(gw, a.operator, svc.name);
    expect(after.headers.get("x-hms-region")).toBe("primary");
    expect(after.headers.get("x-hms-failover")).toBeNull();
  });

  it("never ejects more than half a region: past that the whole region fails over", async () => {
    const a = await createAgency();
    const p = [await upstream(), await upstream(), await upstream()];
    const s = await upstream();
    const svc = await gatewayService(a.tenantId, [
      ...p.map((u) => ({ url: u.url })),
      { url: s.url, region: "secondary" },
    ]);
    // One of three primary instances ejected: the other two still serve.
    await db().query(`UPDATE instances SET status = 'red' WHERE id = $1`, [svc.instanceIds[0]]);
    await gw.gateway.table.reloadService({ serviceId: svc.id });
    for (let i = 0; i < 6; i++)
      expect((await call(gw, a.operator, svc.name)).headers.get("x-hms-region")).toBe("primary");
    // Two of three: more than half, so the region is failed over although one instance is fine.
    await db().query(`UPDATE instances SET status = 'red' WHERE id = $1`, [svc.instanceIds[1]]);
    await gw.gateway.table.reloadService({ serviceId: svc.id });
    const before = p[2]!.totalHits();
    for (let i = 0; i < 6; i++) {
      expect((await call(gw, a.operator, svc.name)).headers.get("x-hms-region")).toBe("secondary");
    }
    expect(p[2]!.totalHits()).toBe(before);
  });

  it("answers 503 problem+json with Retry-After when nothing can serve", async () => {
    const a = await createAgency();
    const u = await startUpstream({ kind: "status", status: 500 });
    upstreams.push(u);
    const svc = await gatewayService(a.tenantId, [{ url: u.url }], { openSeconds: 20 });
    for (let i = 0; i < 5; i++) await call(gw, a.operator, svc.name);
    const r = await call(gw, a.operator, svc.name);
    expect(r.status).toBe(503);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    const retry = Number(r.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(15);
    expect(retry).toBeLessThanOrEqual(20);
    expect(((await r.json()) as { code: string }).code).toBe("no_healthy_instance");
    expect(u.totalHits()).toBe(5);
  });

  it("obeys forced states: forced open sends nothing, forced closed sends despite failures, release resumes", async () => {
    const a = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }]);
    const id = svc.instanceIds[0]!;
    const op = a.operator.username;
    await forceCircuit(db(), { instanceId: id, action: "open", tenantScope: a.tenantId, actor: op });
    const inst = () => gw.gateway.table.instance(id);
    await call(gw, a.operator, svc.name); // loads the service
    await until(() => inst()?.breaker.forced === "open");
    expect((await call(gw, a.operator, svc.name)).status).toBe(503);

    await forceCircuit(db(), { instanceId: id, action: "closed", tenantScope: a.tenantId, actor: op });
    await until(() => inst()?.breaker.forced === "closed");
    u.set({ kind: "status", status: 500 });
    for (let i = 0; i < 8; i++) expect((await call(gw, a.operator, svc.name)).status).toBe(500);
    expect(inst()!.breaker.effectiveState(Date.now())).toBe("closed");

    u.set({ kind: "echo" });
    await forceCircuit(db(), { instanceId: id, action: "release", tenantScope: a.tenantId, actor: op });
    await until(() => inst()?.breaker.forced === null);
    expect((await call(gw, a.operator, svc.name)).status).toBe(200);
    const audit = await db().query<{ action: string; data: { action: string } }>(
      `SELECT action, data FROM audit_events WHERE target = $1 ORDER BY id`,
      [`instance:${id}`],
    );
    expect(audit.rows.map((r) => r.data.action)).toEqual(["open", "closed", "release"]);
  });

  it("another tenant cannot force a breaker (not found, nothing changes)", async () => {
    const a = await createAgency();
    const b = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }]);
    await expect(
      forceCircuit(db(), { instanceId: svc.instanceIds[0]!, action: "open", tenantScope: b.tenantId, actor: "x" }),
    ).rejects.toMatchObject({ code: "not_found" });
    const { rowCount } = await db().query(`SELECT 1 FROM circuits WHERE instance_id = $1`, [svc.instanceIds[0]]);
    expect(rowCount).toBe(0);
  });
});

describe("replicas", () => {
  it("converge on a trip within a second: the other replica stops sending without seeing a failure", async () => {
    const second = await startTestGateway<never>();
    try {
      const a = await createAgency();
      const bad = await startUpstream({ kind: "status", status: 502 });
      upstreams.push(bad);
      const good = await upstream();
      const svc = await gatewayService(a.tenantId, [{ url: bad.url }, { url: good.url }]);
      // Both replicas know the service.
      await call(second, a.operator, svc.name);
      const seen = bad.totalHits();
      for (let i = 0; i < 12; i++) await call(gw, a.operator, svc.name);
      const other = () => second.gateway.table.instance(svc.instanceIds[0]!)!;
      const ms = await until(() => other().breaker.state === "open", 1_000);
      expect(ms).toBeLessThan(1_000);
      const hits = bad.totalHits();
      for (let i = 0; i < 10; i++) expect((await call(second, a.operator, svc.name)).status).toBe(200);
      expect(bad.totalHits()).toBe(hits);
      expect(hits - seen).toBe(5);
    } finally {
      await second.close();
    }
  });

  it("report their local view in gateway_replicas (per-replica detail)", async () => {
    const a = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }]);
    await call(gw, a.operator, svc.name);
    await until(async () => {
      const { rows } = await db().query<{ circuits: Record<string, { state: string; calls: number }> }>(
        `SELECT circuits FROM gateway_replicas WHERE circuits ? $1`,
        [svc.instanceIds[0]],
      );
      return rows.some((r) => r.circuits[svc.instanceIds[0]!]?.calls === 1);
    }, 5_000);
  });
});

describe("streaming", () => {
  it("streams a 50 MB body through without buffering it (the upstream sees bytes before the client is done)", async () => {
    const a = await createAgency();
    const u = await upstream();
    const svc = await gatewayService(a.tenantId, [{ url: u.url }], { gatewayTimeoutMs: 60_000 });
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const total = 50;
    const hash = createHash("sha256");
    let finishedSendingAt = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const sent = (this as unknown as { n?: number }).n ?? 0;
        if (sent === total) {
          finishedSendingAt = performance.now();
          controller.close();
          return;
        }
        (this as unknown as { n: number }).n = sent + 1;
        hash.update(chunk);
        if (sent === 1) await new Promise((r) => setTimeout(r, 200)); // a pause the upstream must see through
        controller.enqueue(chunk);
      },
    });
    const r = await call(gw, a.operator, svc.name, "/upload", {
      method: "POST",
      body,
      headers: { "content-type": "application/octet-stream" },
      duplex: "half",
    } as RequestInit);
    const echo = await echoOf(r);
    expect(echo.bodyBytes).toBe(total * chunk.length);
    expect(echo.sha256).toBe(hash.digest("hex"));
    expect(u.firstBodyByteAt).not.toBeNull();
    expect(u.firstBodyByteAt!).toBeLessThan(finishedSendingAt);
  });
});

describe("tenants without a tenant", () => {
  it("a global admin has no services to call through the gateway", async () => {
    await createTenant();
    const admin = await createUser("admin", null);
    const r = await fetch(`${gw.url}/api/v1/gw/anything/`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { code: string }).code).toBe("tenant_forbidden");
  });
});

describe("rate limits across two replicas", () => {
  it("hold the tenant's limit within 10% over two replicas, with 429 + RateLimit headers, other tenants untouched", async () => {
    const a = await createAgency();
    const b = await createAgency();
    const u = await upstream("ok");
    const sa = await gatewayService(a.tenantId, [{ url: u.url }]);
    const sb = await gatewayService(b.tenantId, [{ url: u.url }]);
    const rps = 20;
    const burst = 10;
    await db().query(
      `INSERT INTO rate_limits (tenant_id, scope, rps, burst, updated_by) VALUES ($1, '*', $2, $3, 'test')`,
      [a.tenantId, rps, burst],
    );
    const pools = [1, 2].map(() => createPool(process.env.DATABASE_URL!, 4, { allTenants: true }));
    const limiters = pools.map((p, n) => new SharedRateLimiter({ pool: p, replicaId: `rl-${n}` }));
    await Promise.all(limiters.map((l) => l.start()));
    const replicas = await Promise.all(
      limiters.map((l) =>
        startTestGateway<RateDecision>({
          limiter: { check: (t, s) => l.check(t, s), headers: rateLimitHeaders, rejected: rateLimitedProblem },
        }),
      ),
    );
    try {
      const seconds = 2;
      const deadline = performance.now() + seconds * 1000;
      let admitted = 0;
      let limited = 0;
      let otherLimited = 0;
      let sample429: Response | null = null;
      const lane = async (n: number) => {
        while (performance.now() < deadline) {
          const target = replicas[n % 2]!;
          const r = await call(target, a.operator, sa.name);
          if (r.status === 200) admitted++;
          else if (r.status === 429) {
            limited++;
            sample429 ??= r;
          }
          if (r.status !== 429) await r.arrayBuffer();
          const o = await call(target, b.operator, sb.name);
          if (o.status === 429) otherLimited++;
          await o.arrayBuffer();
        }
      };
      await Promise.all([0, 1, 2, 3].map(lane));
      const allowed = rps * seconds + burst;
      expect(limited).toBeGreaterThan(0);
      expect(admitted).toBeLessThanOrEqual(Math.ceil(allowed * 1.1));
      expect(admitted).toBeGreaterThanOrEqual(Math.floor(allowed * 0.8));
      expect(otherLimited).toBe(0);
      const r = sample429!;
      expect(r.headers.get("content-type")).toBe("application/problem+json");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(r.headers.get("ratelimit-policy")).toMatch(/q=10/);
      expect(r.headers.get("ratelimit")).toMatch(/r=0/);
      expect(((await r.json()) as { code: string }).code).toBe("rate_limited");
    } finally {
      await Promise.all(replicas.map((g) => g.close()));
      await Promise.all(limiters.map((l) => l.stop()));
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

describe("access log", () => {
  it("logs every forwarded call with trace id, tenant, service, instance, outcome and latency; refusals once a second", async () => {
    const a = await createAgency();
    const u = await upstream("ok");
    const svc = await gatewayService(a.tenantId, [{ url: u.url }]);
    await db().query(
      `INSERT INTO rate_limits (tenant_id, scope, rps, burst, updated_by) VALUES ($1, '*', 0.05, 1, 'test')`,
      [a.tenantId],
    );
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: "info" },
      { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) },
    );
    const p = createPool(process.env.DATABASE_URL!, 2, { allTenants: true });
    const limiter = new SharedRateLimiter({ pool: p, replicaId: "log-test" });
    await limiter.start();
    const g = await startTestGateway<RateDecision>({
      log,
      limiter: { check: (t, s) => limiter.check(t, s), headers: rateLimitHeaders, rejected: rateLimitedProblem },
    });
    try {
      const first = await call(g, a.operator, svc.name, "/x");
      // An admitted call carries the RateLimit fields too, next to the upstream's own headers.
      expect(first.headers.get("ratelimit-policy")).toBe('"tenant";q=1;w=20');
      expect(first.headers.get("ratelimit")).toMatch(/^"tenant";r=0;t=\d+$/);
      expect(first.headers.get("x-hms-region")).toBe("primary");
      const statuses: number[] = [first.status];
      for (let i = 1; i < 10; i++) statuses.push((await call(g, a.operator, svc.name, "/x")).status);
      expect(statuses[0]).toBe(200);
      expect(statuses.slice(1).every((s) => s === 429)).toBe(true);
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await call(g, a.operator, svc.name, "/x")).status).toBe(429);
      const mine = lines.filter((l) => l.tenant === a.tenantId);
      const ok = mine.find((l) => l.status === 200)!;
      expect(ok).toMatchObject({ service: svc.name, instance: svc.instanceIds[0], outcome: "ok", region: "primary" });
      expect(ok.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(typeof ok.latencyMs).toBe("number");
      // 10 refusals (one token every 20 s): the first is logged, the next ones within a second are
      // only counted, and the line after the pause carries that count — none is lost, few are written.
      const refusals = mine.filter((l) => l.status === 429);
      expect(refusals.length).toBeGreaterThanOrEqual(2);
      expect(refusals.length).toBeLessThan(10);
      const accounted = refusals.reduce((n, l) => n + 1 + Number(l.alsoRefusedSinceLastLine ?? 0), 0);
      expect(accounted).toBe(10);
      expect(refusals.at(-1)).toMatchObject({ outcome: "rate_limited", tenant: a.tenantId, service: svc.name });
      expect(Number(refusals.at(-1)!.alsoRefusedSinceLastLine)).toBeGreaterThan(0);
    } finally {
      await g.close();
      await limiter.stop();
      await p.end();
    }
  });
});
