import net from "node:net";
import type pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { createPool, systemPool } from "../db/pool";
import { createTenant } from "../testing/fixtures";
import { leaseTokens } from "./bucket-lease";
import { upsertLimit } from "./limits-repository";
import { SharedRateLimiter, type RateDecision } from "./shared-limiter";

/**
 * The limiter against the real PostgreSQL, on the real clock. Each "replica" is its own
 * SharedRateLimiter with its own pool, as two processes would be; they share only the database.
 */

const admin: Principal = {
  userId: "00000000-0000-0000-0000-000000000000",
  username: "limits-test",
  role: "admin",
  tenantId: null,
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setLimit(tenant: string, rps: number, burst: number): Promise<void> {
  await upsertLimit(admin, tenant, { rps, burst });
}

/** A pool whose `query` calls are counted (a replica's every database round trip goes through it). */
function countingPool(p: pg.Pool): { pool: pg.Pool; queries: () => number } {
  let n = 0;
  const proxy = new Proxy(p, {
    get(target, prop) {
      if (prop === "query") {
        return (...args: unknown[]) => {
          n++;
          return Reflect.apply(target.query, target, args) as unknown;
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { pool: proxy, queries: () => n };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function replica(
  name: string,
  opts: { listen?: boolean; url?: string; waitTimeoutMs?: number } = {},
): Promise<{ limiter: SharedRateLimiter; queries: () => number }> {
  const real = createPool(opts.url ?? process.env.DATABASE_URL!, 4, { allTenants: true });
  const counted = countingPool(real);
  const limiter = new SharedRateLimiter({
    pool: counted.pool,
    replicaId: name,
    listen: opts.listen ?? false,
    waitTimeoutMs: opts.waitTimeoutMs,
  });
  await limiter.start();
  cleanups.push(async () => {
    await limiter.stop();
    await real.end();
  });
  return { limiter, queries: counted.queries };
}

const decided = (d: RateDecision | Promise<RateDecision>) => Promise.resolve(d);

describe("the shared bucket lease", () => {
  it("never grants more than the bucket holds, however many replicas lease at once", async () => {
    const tenant = await createTenant("rl");
    const p = createPool(process.env.DATABASE_URL!, 10, { allTenants: true });
    cleanups.push(() => p.end());
    // No row yet: the first leases race to create it, the rest queue on its row lock.
    const grants = await Promise.all(
      Array.from({ length: 20 }, () => leaseTokens(p, { tenantId: tenant, scope: "*" }, { rps: 0.001, burst: 30 }, 5)),
    );
    expect(grants.reduce((s, g) => s + g.granted, 0)).toBe(30);
    expect(grants.filter((g) => g.granted === 0).length).toBe(14);
  });
});

describe("SharedRateLimiter", () => {
  it.each([
    { rps: 50, burst: 20, seconds: 3, perTickA: 2, perTickB: 1 }, // ≈ 600/s offered: 12× the quota
    { rps: 400, burst: 100, seconds: 2, perTickA: 8, perTickB: 4 }, // ≈ 2,400/s offered: 6×, batches of several tokens
  ])(
    "holds $rps/s (burst $burst) across two replicas within 10% over and 15% under, with uneven load",
    async ({ rps, burst, seconds: duration, perTickA, perTickB }) => {
      const tenant = await createTenant("rl");
      await setLimit(tenant, rps, burst);
      const a = await replica("a");
      const b = await replica("b");

      const fromA: Promise<RateDecision>[] = [];
      const fromB: Promise<RateDecision>[] = [];
      const started = performance.now();
      while (performance.now() - started < duration * 1000) {
        // every ~5 ms, twice as many requests to replica A as to replica B
        for (let i = 0; i < perTickA; i++) fromA.push(decided(a.limiter.check(tenant)));
        for (let i = 0; i < perTickB; i++) fromB.push(decided(b.limiter.check(tenant)));
        await sleep(5);
      }
      const [da, db] = await Promise.all([Promise.all(fromA), Promise.all(fromB)]);
      const seconds = (performance.now() - started) / 1000;
      const admittedA = da.filter((d) => d.allowed).length;
      const admittedB = db.filter((d) => d.allowed).length;
      const admitted = admittedA + admittedB;
      const ideal = rps * seconds + burst;
      console.info(
        `[accuracy] ${rps}/s burst ${burst}, ${seconds.toFixed(2)} s: offered ${da.length + db.length}, ` +
          `admitted ${admitted} (A ${admittedA}, B ${admittedB}), ideal ${ideal.toFixed(1)}, ` +
          `ratio ${(admitted / ideal).toFixed(3)}, queries A ${a.queries()} B ${b.queries()}`,
      );
      expect(admitted).toBeLessThanOrEqual(ideal * 1.1);
      expect(admitted).toBeGreaterThanOrEqual(ideal * 0.85);
      // Both replicas got a share; neither was starved by the other.
      expect(admittedA).toBeGreaterThan(0);
      expect(admittedB).toBeGreaterThan(0);
      // Rejections were decided locally: far fewer round trips than requests.
      expect(a.queries() + b.queries()).toBeLessThan((da.length + db.length) / 4);
    },
  );

  it.each([
    { rps: 100_000, burst: 100_000 },
    { rps: 1_000, burst: 1_000 },
  ])(
    "admits all of 400 concurrent requests under $rps/s (burst $burst): none refused while the bucket holds tokens",
    async ({ rps, burst }) => {
      const tenant = await createTenant("rl-burst");
      await setLimit(tenant, rps, burst);
      const r = await replica("burst");
      const results = await Promise.all(Array.from({ length: 400 }, () => decided(r.limiter.check(tenant))));
      const refused = results.filter((d) => !d.allowed);
      console.info(`[burst] ${rps}/${burst}: ${refused.length} of 400 refused, ${r.queries()} queries`);
      expect(refused.length).toBe(0);
      expect(results.every((d) => d.limited && d.policyName === "tenant")).toBe(true);
    },
  );

  it("admits about the burst (±10 %) of 400 concurrent requests under 50/s (burst 50), refusing the rest with Retry-After", async () => {
    const tenant = await createTenant("rl-burst");
    await setLimit(tenant, 50, 50);
    const r = await replica("burst-50");
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 400 }, () => decided(r.limiter.check(tenant))));
    const seconds = (performance.now() - started) / 1000;
    const admitted = results.filter((d) => d.allowed).length;
    console.info(`[burst] 50/50: ${admitted} of 400 admitted in ${seconds.toFixed(3)} s`);
    expect(admitted).toBeGreaterThanOrEqual(45);
    // the bucket may refill a little while the 400 are decided: burst + rps × elapsed is the true ceiling
    expect(admitted).toBeLessThanOrEqual(Math.max(55, Math.floor(50 + 50 * seconds)));
    for (const d of results.filter((x) => !x.allowed)) {
      expect(d).toMatchObject({ limited: true, policyName: "tenant", remaining: 0 });
      expect(d.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
  });

  it("holds the limit within 5 % over and 10 % under across two replicas driven at about 3× the rate", async () => {
    const rps = 300;
    const burst = 150;
    const tenant = await createTenant("rl-two");
    await setLimit(tenant, rps, burst);
    const a = await replica("two-a");
    const b = await replica("two-b");
    const pending: Promise<RateDecision>[] = [];
    let offered = 0;
    const started = performance.now();
    // Open loop at 3× the rate whatever the timer's real cadence: each tick tops up to 3 × rps × elapsed,
    // two of every three requests to replica A.
    while (performance.now() - started < 3_000) {
      const due = Math.floor(3 * rps * ((performance.now() - started) / 1000));
      for (; offered < due; offered++) {
        const to = offered % 3 === 2 ? b : a;
        pending.push(decided(to.limiter.check(tenant)));
      }
      await sleep(5);
    }
    const results = await Promise.all(pending);
    const seconds = (performance.now() - started) / 1000;
    const admitted = results.filter((d) => d.allowed).length;
    const ideal = burst + rps * seconds;
    console.info(
      `[two replicas] ${seconds.toFixed(2)} s: offered ${results.length}, admitted ${admitted}, ideal ` +
        `${ideal.toFixed(1)}, ratio ${(admitted / ideal).toFixed(3)}, queries A ${a.queries()} B ${b.queries()}`,
    );
    expect(admitted).toBeLessThanOrEqual(ideal * 1.05);
    expect(admitted).toBeGreaterThanOrEqual(ideal * 0.9);
  });

  it("limits each caller to its perCaller share while another caller of the same tenant is still admitted", async () => {
    const tenant = await createTenant("rl-caller");
    await upsertLimit(admin, tenant, { rps: 1_000, burst: 1_000, perCaller: { rps: 20, burst: 20 } });
    const r = await replica("per-caller");
    const started = performance.now();
    // caller X floods: 300 at once, then 20 more every 10 ms for about a second
    const flood: Promise<RateDecision>[] = Array.from({ length: 300 }, () =>
      decided(r.limiter.check(tenant, "docs", "user:x")),
    );
    const fromY: RateDecision[] = [];
    while (performance.now() - started < 1_000) {
      for (let i = 0; i < 20; i++) flood.push(decided(r.limiter.check(tenant, "docs", "user:x")));
      // caller Y: one request per tick, well inside its own allowance
      if (fromY.length < 15) fromY.push(await decided(r.limiter.check(tenant, "docs", "service:y")));
      await sleep(10);
    }
    const xs = await Promise.all(flood);
    const seconds = (performance.now() - started) / 1000;
    const admittedX = xs.filter((d) => d.allowed).length;
    console.info(`[per caller] ${seconds.toFixed(2)} s: X admitted ${admittedX} of ${xs.length}, Y ${fromY.length}`);
    expect(admittedX).toBeGreaterThanOrEqual(20);
    expect(admittedX).toBeLessThanOrEqual((20 + 20 * seconds) * 1.05);
    const refusedX = xs.filter((d) => !d.allowed);
    expect(refusedX.length).toBeGreaterThan(0);
    for (const d of refusedX) expect(d).toMatchObject({ policyName: "caller", limit: 20 });
    expect(fromY.length).toBe(15);
    expect(fromY.every((d) => d.allowed)).toBe(true);
    // Without a caller, or with perCaller removed, only the tenant's limit applies.
    expect(await decided(r.limiter.check(tenant))).toMatchObject({ allowed: true, policyName: "tenant" });
    await setLimit(tenant, 1_000, 1_000);
    await r.limiter.refresh();
    expect(await decided(r.limiter.check(tenant, "docs", "user:x"))).toMatchObject({
      allowed: true,
      policyName: "tenant",
    });
  });

  it("decides from leased tokens synchronously, with no database round trip per request", async () => {
    const tenant = await createTenant("rl");
    await setLimit(tenant, 100_000, 1_000);
    const r = await replica("hot-path");
    await decided(r.limiter.check(tenant)); // the first request of a bucket waits for its first lease

    // Warm up at ~10,000 requests per second so the batch grows to this replica's demand.
    let checks = 0;
    let sync = 0;
    const before = r.queries();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 20; i++) {
        const d = r.limiter.check(tenant);
        checks++;
        if (!(d instanceof Promise)) sync++;
        expect((await decided(d)).allowed).toBe(true);
      }
      await sleep(2);
    }
    const warmQueries = r.queries() - before;
    console.info(`[hot path] ${checks} checks, ${sync} synchronous, ${warmQueries} queries`);
    expect(warmQueries).toBeLessThan(checks / 20);
    expect(sync / checks).toBeGreaterThan(0.95);

    // With tokens leased, a run of requests is decided in memory: every answer synchronous, at most one prefetch.
    await sleep(50);
    const q0 = r.queries();
    for (let i = 0; i < 20; i++) {
      const d = r.limiter.check(tenant);
      expect(d instanceof Promise).toBe(false);
      expect((d as RateDecision).allowed).toBe(true);
    }
    expect(r.queries() - q0).toBeLessThanOrEqual(1);
  });

  it("rejects a tenant over its limit locally with Retry-After, while another tenant is unaffected", async () => {
    const hot = await createTenant("rl-hot");
    const calm = await createTenant("rl-calm");
    await setLimit(hot, 5, 5);
    await setLimit(calm, 1_000, 1_000);
    const r = await replica("noisy");
    // The calm tenant's steady traffic (one request per 5 ms) is already flowing when the hot one starts.
    for (let i = 0; i < 60; i++) {
      expect((await decided(r.limiter.check(calm))).allowed).toBe(true);
      await sleep(5);
    }
    const queriesBefore = r.queries();

    const hotDecisions: Promise<RateDecision>[] = [];
    const calmDecisions: (RateDecision | Promise<RateDecision>)[] = [];
    const started = performance.now();
    for (let i = 0; i < 40; i++) {
      // hot: 10 requests per 5 ms (≈ 400× its 5/s); calm: 1 per 5 ms (well inside its limit)
      for (let j = 0; j < 10; j++) hotDecisions.push(decided(r.limiter.check(hot)));
      calmDecisions.push(r.limiter.check(calm));
      await sleep(5);
    }
    const hotResults = await Promise.all(hotDecisions);
    const seconds = (performance.now() - started) / 1000;
    const admitted = hotResults.filter((d) => d.allowed).length;
    const rejected = hotResults.filter((d) => !d.allowed);
    console.info(
      `[noisy tenant] ${seconds.toFixed(2)} s: hot admitted ${admitted} of ${hotResults.length}, ` +
        `queries ${r.queries() - queriesBefore}, calm synchronous ${calmDecisions.filter((d) => !(d instanceof Promise)).length} of ${calmDecisions.length}`,
    );
    expect(admitted).toBeGreaterThanOrEqual(5);
    expect(admitted).toBeLessThanOrEqual(Math.ceil((5 * seconds + 5) * 1.1));
    expect(rejected.length).toBeGreaterThan(300);
    for (const d of rejected) {
      expect(d).toMatchObject({ allowed: false, limited: true, policyName: "tenant", limit: 5, remaining: 0 });
      expect(d.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(d.resetSeconds).toBe(d.retryAfterSeconds);
    }
    // Hundreds of rejections, a handful of round trips.
    expect(r.queries() - queriesBefore).toBeLessThan(40);

    const calmResults = await Promise.all(calmDecisions.map(decided));
    expect(calmResults.every((d) => d.allowed)).toBe(true);
    // ...and still decided in memory: the hot tenant's rejections put nothing in its way.
    expect(calmDecisions.filter((d) => !(d instanceof Promise)).length).toBeGreaterThanOrEqual(36);
  });

  it("reports the tighter of the tenant-wide and per-service limits, and needs a token from both", async () => {
    const tenant = await createTenant("rl-svc");
    await systemPool().query(
      `INSERT INTO services (id, tenant_id, name) VALUES (gen_random_uuid(), $1, 'doc-review')`,
      [tenant],
    );
    await setLimit(tenant, 1_000, 1_000);
    await upsertLimit(admin, tenant, { rps: 1, burst: 2, service: "doc-review" });
    const r = await replica("svc");

    const first = await decided(r.limiter.check(tenant, "doc-review"));
    expect(first).toMatchObject({ allowed: true, policyName: "service", limit: 2 });
    await decided(r.limiter.check(tenant, "doc-review"));
    const third = await decided(r.limiter.check(tenant, "doc-review"));
    expect(third).toMatchObject({ allowed: false, policyName: "service", limit: 2 });
    // Other services, and the tenant's traffic without a service, still pass on the tenant-wide limit.
    expect(await decided(r.limiter.check(tenant, "other"))).toMatchObject({ allowed: true, policyName: "tenant" });
    expect(await decided(r.limiter.check(tenant))).toMatchObject({ allowed: true, policyName: "tenant", limit: 1_000 });
  });

  it("picks up a limit changed through another replica within a second (NOTIFY)", async () => {
    const tenant = await createTenant("rl-notify");
    const b = await replica("listener", { listen: true });
    expect(await decided(b.limiter.check(tenant))).toMatchObject({ allowed: true, limited: false });

    const waitFor = async (want: (d: RateDecision) => boolean): Promise<number> => {
      const t0 = performance.now();
      while (performance.now() - t0 < 1_000) {
        if (want(await decided(b.limiter.check(tenant)))) return performance.now() - t0;
        await sleep(5);
      }
      throw new Error("the change did not arrive within 1 s");
    };

    await setLimit(tenant, 1, 3);
    const seen = await waitFor((d) => d.limited && d.limit === 3);
    await setLimit(tenant, 1, 7);
    const changed = await waitFor((d) => d.limit === 7);
    console.info(`[notify] new limit seen after ${seen.toFixed(0)} ms, change after ${changed.toFixed(0)} ms`);
    expect(seen).toBeLessThan(1_000);
  });

  it("fails open with a local bucket at the configured rate when the database goes away, without blocking", async () => {
    const tenant = await createTenant("rl-down");
    await setLimit(tenant, 5, 5);
    const proxy = await tcpProxy(new URL(process.env.DATABASE_URL!));
    const r = await replica("cut-off", { url: proxy.url, waitTimeoutMs: 300 });
    expect(await decided(r.limiter.check(tenant))).toMatchObject({ allowed: true, limited: true });

    await proxy.close(); // the database's port is now closed to this replica

    const results: { d: RateDecision; ms: number }[] = [];
    const started = performance.now();
    while (performance.now() - started < 1_000) {
      const t0 = performance.now();
      const d = await decided(r.limiter.check(tenant));
      results.push({ d, ms: performance.now() - t0 });
      await sleep(10);
    }
    const seconds = (performance.now() - started) / 1000;
    const admitted = results.filter((x) => x.d.allowed).length;
    console.info(
      `[fail-open] ${results.length} checks in ${seconds.toFixed(2)} s, admitted ${admitted}, ` +
        `slowest ${Math.max(...results.map((x) => x.ms)).toFixed(0)} ms`,
    );
    // Allowed traffic keeps flowing (a fresh local bucket: burst + rps × seconds), and it is still limited.
    expect(admitted).toBeGreaterThanOrEqual(5);
    expect(admitted).toBeLessThanOrEqual(Math.ceil(5 + 5 * seconds) + 2);
    expect(results.some((x) => !x.d.allowed && x.d.retryAfterSeconds >= 1)).toBe(true);
    // No request waited on the dead database for longer than the wait limit.
    expect(Math.max(...results.map((x) => x.ms))).toBeLessThan(400);
  });

  it("applies HMS_DEFAULT_TENANT_RPS to tenants without a limit, even with no database from the start", async () => {
    process.env.HMS_DEFAULT_TENANT_RPS = "3";
    process.env.HMS_DEFAULT_TENANT_BURST = "3";
    cleanups.push(async () => {
      delete process.env.HMS_DEFAULT_TENANT_RPS;
      delete process.env.HMS_DEFAULT_TENANT_BURST;
    });
    const closed = await tcpProxy(new URL(process.env.DATABASE_URL!));
    await closed.close();
    const r = await replica("no-db", { url: closed.url, waitTimeoutMs: 300 });
    const results = await Promise.all(Array.from({ length: 10 }, () => decided(r.limiter.check("any-agency"))));
    expect(results.filter((d) => d.allowed).length).toBe(3);
    expect(results.every((d) => d.limited && d.limit === 3)).toBe(true);
  });
});

/** A TCP forwarder to the test database that can be shut, closing the port and every connection through it. */
async function tcpProxy(target: URL): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.toString(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
