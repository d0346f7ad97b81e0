import { afterAll, describe, expect, it } from "vitest";
import { createPool, systemPool } from "../db/pool";
import { createHealthService } from "../health/test-fixtures";
import { startUpstream, type Upstream } from "../health/test-upstream";
import { upsertLimit } from "../ratelimit/limits-repository";
import { rateLimitedProblem, rateLimitHeaders } from "../ratelimit/rate-limit-headers";
import { SharedRateLimiter, type RateDecision } from "../ratelimit/shared-limiter";
import { createAgency, createUser } from "../testing/fixtures";
import { startTestGateway } from "./test-gateway";

/**
 * The rate limit end to end: a real gateway replica with its own SharedRateLimiter, a real upstream
 * on 127.0.0.1 and the real database. ARCHITECTURE.md §7: a limit never refuses a request while its
 * bucket holds tokens.
 */

const upstreams: Upstream[] = [];
afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close().catch(() => {})));
});

describe("the gateway's rate limit", () => {
  it("answers all of 400 concurrent GETs under {rps: 1000, burst: 1000} with no 429", async () => {
    const a = await createAgency();
    const u = await startUpstream({ kind: "ok" });
    upstreams.push(u);
    const svc = await createHealthService(systemPool(), a.tenantId, {}, [{ url: u.url, nextCheck: "never" }]);
    await systemPool().query(
      `INSERT INTO rate_limits (tenant_id, scope, rps, burst, updated_by) VALUES ($1, '*', 1000, 1000, 'test')`,
      [a.tenantId],
    );
    const p = createPool(process.env.DATABASE_URL!, 4, { allTenants: true });
    const limiter = new SharedRateLimiter({ pool: p, replicaId: "gw-burst", listen: false });
    await limiter.start();
    const g = await startTestGateway<RateDecision>({
      limiter: {
        check: (t, s, c) => limiter.check(t, s, c),
        headers: rateLimitHeaders,
        rejected: rateLimitedProblem,
      },
    });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 400 }, async () => {
          const r = await fetch(`${g.url}/api/v1/gw/${svc.name}/x`, {
            headers: { authorization: `Bearer ${a.operator.token}` },
          });
          await r.arrayBuffer();
          return r.status;
        }),
      );
      const count = (s: number) => statuses.filter((x) => x === s).length;
      console.info(`[gateway burst] 200: ${count(200)}, 429: ${count(429)}, other: ${400 - count(200) - count(429)}`);
      expect(count(429)).toBe(0);
      expect(count(200)).toBe(400);
    } finally {
      await g.close();
      await limiter.stop();
      await p.end();
    }
  });

  it("counts each caller against the tenant's perCaller limit: one caller's 429 leaves another caller admitted", async () => {
    const a = await createAgency();
    const other = await createUser("operator", a.tenantId);
    const u = await startUpstream({ kind: "ok" });
    upstreams.push(u);
    const svc = await createHealthService(systemPool(), a.tenantId, {}, [{ url: u.url, nextCheck: "never" }]);
    const admin = await createUser("admin", null);
    // one token every 100 s per caller: the third call of a caller comes long before the next token
    await upsertLimit(admin, a.tenantId, { rps: 1_000, burst: 1_000, perCaller: { rps: 0.01, burst: 2 } });
    const p = createPool(process.env.DATABASE_URL!, 2, { allTenants: true });
    const limiter = new SharedRateLimiter({ pool: p, replicaId: "gw-caller", listen: false });
    await limiter.start();
    const g = await startTestGateway<RateDecision>({
      limiter: { check: (t, s, c) => limiter.check(t, s, c), headers: rateLimitHeaders, rejected: rateLimitedProblem },
    });
    const call = async (token: string) => {
      const r = await fetch(`${g.url}/api/v1/gw/${svc.name}/x`, { headers: { authorization: `Bearer ${token}` } });
      const body = await r.text();
      return { status: r.status, policy: r.headers.get("ratelimit-policy"), body };
    };
    try {
      const first = [await call(a.operator.token), await call(a.operator.token), await call(a.operator.token)];
      expect(first.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(first[2]!.policy).toBe('"caller";q=2;w=200');
      expect(JSON.parse(first[2]!.body)).toMatchObject({ code: "rate_limited", policy: "caller" });
      expect((await call(other.token)).status).toBe(200);
    } finally {
      await g.close();
      await limiter.stop();
      await p.end();
    }
  });
});
