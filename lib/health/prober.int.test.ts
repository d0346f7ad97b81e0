import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool, withTransaction } from "@/lib/db/pool";
import { networkPolicyFromEnv, type NetworkPolicy } from "@/lib/net/network-policy";
import { createTenant } from "@/lib/testing/fixtures";
import { BUCKET_COUNT, bucketIndex } from "./latency-buckets";
import {
  HEALTH_CHANNEL,
  probeUntilIdle,
  recomputeServiceStatus,
  runProbeRound,
  type ProbeRoundOptions,
} from "./prober";
import { createHealthService, type TestService } from "./test-fixtures";
import { startUpstream, type Upstream } from "./test-upstream";

process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";

let policy: NetworkPolicy;
const upstreams: Upstream[] = [];

beforeAll(() => {
  policy = networkPolicyFromEnv();
});
afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
});

async function upstream(...args: Parameters<typeof startUpstream>): Promise<Upstream> {
  const u = await startUpstream(...args);
  upstreams.push(u);
  return u;
}

/** One round for this tenant's instances only (other test files' instances are left alone). */
function round(tenantId: string, extra: Partial<ProbeRoundOptions> = {}) {
  return runProbeRound({ pool: systemPool(), workerId: "w-test", policy, tenantId, ...extra });
}
async function dueNow(tenantId: string) {
  await systemPool().query(
    `UPDATE instances SET next_check_at = now() WHERE tenant_id = $1 AND next_check_at <> 'infinity'`,
    [tenantId],
  );
}
/** Makes every instance of the tenant due, then runs a round. */
async function probe(tenantId: string, extra: Partial<ProbeRoundOptions> = {}) {
  await dueNow(tenantId);
  return round(tenantId, extra);
}

async function instanceRow(id: string) {
  const { rows } = await systemPool().query(
    `SELECT status, status_reason AS reason, consecutive_failures AS cf, consecutive_successes AS cs, last_checked_at,
            last_latency_ms, last_error, next_check_at, leased_until, leased_by
       FROM instances WHERE id = $1`,
    [id],
  );
  return rows[0];
}
async function serviceRow(id: string) {
  const { rows } = await systemPool().query(
    `SELECT status, status_reason AS reason, maintenance, status_changed_at FROM services WHERE id = $1`,
    [id],
  );
  return rows[0];
}
async function events(serviceId: string) {
  const { rows } = await systemPool().query<{ status: string; reason: string | null }>(
    `SELECT status, reason FROM service_status_events WHERE service_id = $1 ORDER BY id`,
    [serviceId],
  );
  return rows;
}
async function checks(instanceId: string) {
  const { rows } = await systemPool().query(
    `SELECT outcome, http_status, latency_ms, error, worker_id FROM health_checks WHERE instance_id = $1 ORDER BY id`,
    [instanceId],
  );
  return rows;
}
const statusOf = async (id: string) => (await instanceRow(id)).status as string;

async function setup(
  settings: Parameters<typeof createHealthService>[2],
  instances: Parameters<typeof createHealthService>[3],
) {
  const tenantId = await createTenant("hp");
  const svc = await createHealthService(systemPool(), tenantId, settings, instances);
  return { tenantId, svc };
}

describe("runProbeRound: instance transitions", () => {
  it("turns a never-checked instance green, stores the check, and writes one status event", async () => {
    const up = await upstream();
    const { tenantId, svc } = await setup({}, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    expect(await serviceRow(svc.id)).toMatchObject({ status: "unknown" });

    const r = await round(tenantId);
    expect(r).toMatchObject({ leased: 1, probed: 1, pass: 1, warn: 0, fail: 0, instanceChanges: 1, serviceChanges: 1 });
    expect(up.hits.get("/health")).toBe(1);
    const inst = await instanceRow(id);
    expect(inst).toMatchObject({ status: "green", reason: null, cf: 0, cs: 1, leased_until: null, leased_by: null });
    expect(inst.last_checked_at).toBeInstanceOf(Date);
    expect(inst.last_latency_ms).toBeGreaterThanOrEqual(0);
    expect(await serviceRow(svc.id)).toMatchObject({ status: "green", reason: null });
    expect((await serviceRow(svc.id)).status_changed_at).toBeInstanceOf(Date);
    expect(await checks(id)).toEqual([
      { outcome: "pass", http_status: 200, latency_ms: expect.any(Number), error: null, worker_id: "w-test" },
    ]);
    expect(await events(svc.id)).toEqual([{ status: "green", reason: null }]);

    // nothing due now: the next check is scheduled one interval later
    expect(await round(tenantId)).toMatchObject({ leased: 0 });
    // another pass changes nothing: no new event
    expect(await probe(tenantId)).toMatchObject({ probed: 1, instanceChanges: 0, serviceChanges: 0 });
    expect(await events(svc.id)).toHaveLength(1);
  });

  it("turns green to yellow when a pass is slower than the budget, with one event per status change", async () => {
    const up = await upstream();
    const { tenantId, svc } = await setup({ latencyBudgetMs: 200 }, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    await probe(tenantId);
    up.set({ kind: "slow", delayMs: 450 });
    const r = await probe(tenantId);
    expect(r).toMatchObject({ warn: 1, instanceChanges: 1, serviceChanges: 1 });
    const inst = await instanceRow(id);
    expect(inst.status).toBe("yellow");
    expect(inst.reason).toMatch(/^slow: \d+ ms > 200 ms budget$/);
    const svcRow = await serviceRow(svc.id);
    expect(svcRow.status).toBe("yellow");
    expect(svcRow.reason).toMatch(/^1 of 1 instance yellow \(primary: slow: \d+ ms > 200 ms budget\)$/);
    expect((await checks(id))[1]).toMatchObject({ outcome: "warn", http_status: 200, error: inst.reason });

    // still slow (the measured number may differ): still yellow, no new event
    await probe(tenantId);
    expect(await statusOf(id)).toBe("yellow");
    up.set({ kind: "ok" });
    await probe(tenantId);
    expect(await statusOf(id)).toBe("green");
    expect((await events(svc.id)).map((e) => e.status)).toEqual(["green", "yellow", "green"]);
  });

  it("turns yellow when the service reports application/health+json warn, and fails it on fail", async () => {
    const up = await upstream({ kind: "health", healthStatus: "warn", output: "replica lag 30 s" });
    const { tenantId, svc } = await setup({}, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    await probe(tenantId);
    expect(await instanceRow(id)).toMatchObject({ status: "yellow", reason: 'reports "warn": replica lag 30 s' });
    expect(await serviceRow(svc.id)).toMatchObject({
      status: "yellow",
      reason: '1 of 1 instance yellow (primary: reports "warn": replica lag 30 s)',
    });

    up.set({ kind: "health", healthStatus: "pass" });
    await probe(tenantId);
    expect(await statusOf(id)).toBe("green");

    // a 200 that says "fail" is a failure
    up.set({ kind: "health", healthStatus: "fail", output: "db down" });
    await probe(tenantId);
    expect(await instanceRow(id)).toMatchObject({
      status: "yellow",
      reason: 'intermittent: reports "fail": db down (1 of 3 failures before red)',
      cf: 1,
    });
  });

  it("makes one failure an intermittent yellow and the next pass green again", async () => {
    const up = await upstream();
    const { tenantId, svc } = await setup({}, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    await probe(tenantId);
    up.set({ kind: "status", status: 500 });
    expect(await probe(tenantId)).toMatchObject({ fail: 1 });
    expect(await instanceRow(id)).toMatchObject({
      status: "yellow",
      reason: "intermittent: HTTP 500 (1 of 3 failures before red)",
      last_error: "HTTP 500",
      cf: 1,
      cs: 0,
    });
    up.set({ kind: "ok" });
    await probe(tenantId);
    expect(await instanceRow(id)).toMatchObject({ status: "green", cf: 0, cs: 1, last_error: null });
  });

  it("turns red after failureThreshold consecutive failures and needs successThreshold passes to recover", async () => {
    const up = await upstream();
    const { tenantId, svc } = await setup({ failureThreshold: 3, successThreshold: 2 }, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    await up.down();
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      await probe(tenantId);
      seen.push(await statusOf(id));
    }
    expect(seen).toEqual(["yellow", "yellow", "red", "red"]);
    expect(await instanceRow(id)).toMatchObject({ reason: "connection refused (4 consecutive failures)", cf: 4 });
    expect(await serviceRow(svc.id)).toMatchObject({
      status: "red",
      reason:
        "no instance can take traffic: 1 of 1 instance red (primary: connection refused (4 consecutive failures))",
    });

    await up.up();
    await probe(tenantId);
    expect(await instanceRow(id)).toMatchObject({ status: "red", reason: "recovering 1/2", cs: 1 });
    expect(await serviceRow(svc.id)).toMatchObject({ status: "red" });
    await probe(tenantId);
    expect(await instanceRow(id)).toMatchObject({ status: "green", reason: null, cs: 2 });
    expect((await events(svc.id)).map((e) => e.status)).toEqual(["yellow", "red", "green"]);
  });

  it("feeds the breaker: red trips it (announced on hms_circuit), trusted again closes the breaker it opened", async () => {
    const up = await upstream();
    const { tenantId, svc } = await setup({ failureThreshold: 1, successThreshold: 1 }, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    const circuit = async () =>
      (
        await systemPool().query<{ state: string; reason: string; half_open: boolean }>(
          `SELECT state, reason, open_until <= now() AS half_open FROM circuits WHERE instance_id = $1`,
          [id],
        )
      ).rows[0];
    const listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await listener.connect();
    const notices: string[] = [];
    listener.on("notification", (n) => notices.push(n.payload ?? ""));
    await listener.query(`LISTEN hms_circuit`);
    try {
      await probe(tenantId);
      expect(await circuit()).toBeUndefined(); // green: nothing to feed
      await up.down();
      await probe(tenantId);
      expect(await circuit()).toMatchObject({
        state: "open",
        reason: "health check: connection refused (1 failure)",
        half_open: false,
      });
      await up.up();
      await probe(tenantId);
      // the health check's own evidence is reversed: closed, not left to a few trial calls
      expect(await circuit()).toMatchObject({ state: "closed", reason: "health check passes again: closed" });
      await new Promise((r) => setTimeout(r, 100));
      const states = notices.map((n) => (JSON.parse(n) as { instanceId: string; state: string }).instanceId);
      expect(states.filter((x) => x === id)).toHaveLength(2);
    } finally {
      await listener.end();
    }
  });

  it("fails a hanging upstream at the service's timeout, and a reset connection plainly", async () => {
    const up = await upstream({ kind: "hang" });
    const { tenantId, svc } = await setup({ timeoutMs: 300 }, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    const t0 = Date.now();
    await probe(tenantId);
    expect(Date.now() - t0).toBeLessThan(3_000);
    const [c] = await checks(id);
    expect(c).toMatchObject({ outcome: "fail", http_status: null, error: "timeout after 300 ms" });
    expect(c.latency_ms).toBeGreaterThanOrEqual(290);

    up.set({ kind: "reset" });
    await probe(tenantId);
    expect((await checks(id))[1]).toMatchObject({ outcome: "fail", error: "connection reset" });
  });

  it("does not follow a redirect: the 302 is a failure and the target is never requested", async () => {
    const up = await upstream({ kind: "status", status: 302, headers: { location: "/elsewhere" } });
    const { tenantId, svc } = await setup({}, [{ url: up.url }]);
    await probe(tenantId);
    expect(await instanceRow(svc.instanceIds[0]!)).toMatchObject({
      status: "yellow",
      last_error: "redirect not followed (HTTP 302 to /elsewhere)",
    });
    expect(up.hits.get("/elsewhere")).toBeUndefined();
  });

  it("probes base URL + health path, keeping a path prefix", async () => {
    const up = await upstream();
    const { tenantId } = await setup({ healthPath: "/status/live?full=1" }, [{ url: `${up.url}/api/v2` }]);
    await probe(tenantId);
    expect([...up.hits.keys()]).toEqual(["/api/v2/status/live?full=1"]);
  });

  it("fails an instance the network policy refuses, without connecting", async () => {
    const { tenantId, svc } = await setup({}, [{ url: "http://169.254.169.254" }]);
    await probe(tenantId);
    const [c] = await checks(svc.instanceIds[0]!);
    expect(c.outcome).toBe("fail");
    expect(c.error).toMatch(/^refused by network policy \(ssrf_link_local\): /);
    expect(c.latency_ms).toBeNull();
  });
});

describe("runProbeRound: drained instances and service rules", () => {
  it("never probes a drained instance and leaves it out of the service status", async () => {
    const ok = await upstream();
    const drainedUp = await upstream();
    const { tenantId, svc } = await setup({}, [
      { url: ok.url },
      { url: drainedUp.url, region: "secondary", enabled: false },
    ]);
    const r = await probe(tenantId);
    expect(r).toMatchObject({ leased: 2, probed: 1, drained: 1 });
    expect(drainedUp.totalHits()).toBe(0);
    expect(await checks(svc.instanceIds[1]!)).toEqual([]);
    expect(await instanceRow(svc.instanceIds[1]!)).toMatchObject({ status: "unknown", leased_until: null });
    expect(await serviceRow(svc.id)).toMatchObject({ status: "green", reason: null });
  });

  it("recomputes the service when a red instance is drained (the registry sets next_check_at = now())", async () => {
    const ok = await upstream();
    const bad = await upstream({ kind: "status", status: 503 });
    const { tenantId, svc } = await setup({ failureThreshold: 1 }, [{ url: ok.url }, { url: bad.url }]);
    await probe(tenantId);
    expect(await serviceRow(svc.id)).toMatchObject({
      status: "yellow",
      reason: "1 of 2 instances red (primary: HTTP 503 (1 failure))",
    });

    await systemPool().query(`UPDATE instances SET enabled = false, next_check_at = now() WHERE id = $1`, [
      svc.instanceIds[1],
    ]);
    const hitsBefore = bad.totalHits();
    const r = await round(tenantId); // only the drained instance is due
    expect(r).toMatchObject({ leased: 1, probed: 0, drained: 1, serviceChanges: 1 });
    expect(bad.totalHits()).toBe(hitsBefore);
    expect(await serviceRow(svc.id)).toMatchObject({ status: "green", reason: null });
    // its next visit is an interval away, not every round
    expect(await round(tenantId)).toMatchObject({ leased: 0 });
  });

  it("is yellow during failover (primary red, secondary green) and red when nothing can take traffic", async () => {
    const primary = await upstream({ kind: "status", status: 500 });
    const secondary = await upstream();
    const { tenantId, svc } = await setup({ failureThreshold: 1 }, [
      { url: primary.url, region: "primary" },
      { url: secondary.url, region: "secondary" },
    ]);
    await probe(tenantId);
    expect(await serviceRow(svc.id)).toMatchObject({
      status: "yellow",
      reason:
        "failover: no green instance in primary (serving from secondary); 1 of 2 instances red (primary: HTTP 500 (1 failure))",
    });
    secondary.set({ kind: "status", status: 500 });
    await probe(tenantId);
    expect((await serviceRow(svc.id)).status).toBe("red");
    primary.set({ kind: "ok" });
    secondary.set({ kind: "ok" });
    await probe(tenantId); // red instances recover only after successThreshold (2) passes
    expect((await serviceRow(svc.id)).status).toBe("red");
    await probe(tenantId);
    expect(await serviceRow(svc.id)).toMatchObject({ status: "green", reason: null });
    // both instances of a round are stored together: no transient state in between
    expect((await events(svc.id)).map((e) => e.status)).toEqual(["yellow", "red", "green"]);
  });

  it("computes the status as usual in maintenance and keeps the flag", async () => {
    const up = await upstream({ kind: "status", status: 500 });
    const { tenantId, svc } = await setup({ failureThreshold: 1, maintenance: true }, [{ url: up.url }]);
    await probe(tenantId);
    expect(await serviceRow(svc.id)).toMatchObject({ status: "red", maintenance: true });
  });

  it("recomputeServiceStatus reports a change once and stays quiet when nothing changed", async () => {
    const up = await upstream();
    const { tenantId, svc } = await setup({}, [{ url: up.url }, { url: `${up.url}/b` }]);
    await probe(tenantId);
    await systemPool().query(`UPDATE instances SET enabled = false WHERE id = $1`, [svc.instanceIds[0]]);
    await systemPool().query(`UPDATE instances SET enabled = false WHERE id = $1`, [svc.instanceIds[1]]);
    const first = await withTransaction(systemPool(), (tx) => recomputeServiceStatus(tx, svc.id));
    expect(first).toMatchObject({
      changed: true,
      statusChanged: true,
      status: "red",
      reason: "no enabled instances (2 instances drained)",
    });
    const second = await withTransaction(systemPool(), (tx) => recomputeServiceStatus(tx, svc.id));
    expect(second).toMatchObject({ changed: false, statusChanged: false, status: "red" });
    expect((await events(svc.id)).map((e) => e.status)).toEqual(["green", "red"]);
  });
});

describe("runProbeRound: storage, notification, leases and scheduling", () => {
  it("adds every check to its minute's roll-up: counts, latency sum, max and histogram", async () => {
    const up = await upstream();
    const { tenantId, svc } = await setup({ timeoutMs: 500 }, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
    const now = () => new Date(minute + 10_000);
    await probe(tenantId, { now }); // pass
    up.set({ kind: "slow", delayMs: 60 });
    await probe(tenantId, { now }); // pass, 50-100 ms bucket
    up.set({ kind: "status", status: 500 });
    await probe(tenantId, { now }); // fail with an HTTP answer: latency counted
    await up.down();
    await probe(tenantId, { now }); // refused: no latency
    await up.up();

    const { rows } = await systemPool().query(
      `SELECT minute, passes, warns, fails, latency_sum_ms::int AS sum, latency_max_ms AS max, latency_buckets AS b
         FROM health_rollups WHERE instance_id = $1`,
      [id],
    );
    expect(rows).toHaveLength(1);
    const r = rows[0];
    expect(r.minute.getTime()).toBe(minute);
    expect(r).toMatchObject({ passes: 2, warns: 0, fails: 2 });
    // the histogram, sum and max are exactly those of the three checks that got an HTTP answer
    const raw = await checks(id);
    const answered = raw.filter((c) => c.http_status !== null).map((c) => c.latency_ms as number);
    expect(answered).toHaveLength(3);
    const expected = new Array(BUCKET_COUNT).fill(0);
    for (const ms of answered) expected[bucketIndex(ms)]++;
    expect(r.b).toEqual(expected);
    expect(r.sum).toBe(answered.reduce((a, b) => a + b, 0));
    expect(r.max).toBe(Math.max(...answered));
    expect(r.max).toBeGreaterThanOrEqual(60);
    const at = await systemPool().query(`SELECT DISTINCT at FROM health_checks WHERE instance_id = $1`, [id]);
    expect(at.rows.map((x) => x.at.getTime())).toEqual([minute + 10_000]);
  });

  it("sends NOTIFY hms_health '<tenant>:<service>' after the commit, only when something changed", async () => {
    const listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await listener.connect();
    const got: { payload: string; status: string }[] = [];
    const reader = systemPool();
    listener.on("notification", (n) => {
      // reading on another connection proves the state was committed before the NOTIFY
      void reader
        .query(`SELECT s.status FROM services s WHERE s.tenant_id || ':' || s.name = $1`, [n.payload])
        .then((r) => got.push({ payload: n.payload ?? "", status: r.rows[0]?.status }));
    });
    await listener.query(`LISTEN ${HEALTH_CHANNEL}`);
    try {
      const up = await upstream();
      const { tenantId, svc } = await setup({}, [{ url: up.url }]);
      const mine = () => got.filter((g) => g.payload === `${tenantId}:${svc.name}`);
      await probe(tenantId);
      await expect.poll(() => mine().length, { timeout: 2_000 }).toBe(1);
      expect(mine()[0]!.status).toBe("green");

      await probe(tenantId); // no change
      await new Promise((r) => setTimeout(r, 300));
      expect(mine()).toHaveLength(1);

      up.set({ kind: "status", status: 500 });
      await probe(tenantId);
      await expect.poll(() => mine().length, { timeout: 2_000 }).toBe(2);
      expect(mine()[1]!.status).toBe("yellow");
    } finally {
      await listener.end();
    }
  });

  it("never lets two workers probe the same instance in one round", async () => {
    const up = await upstream({ kind: "slow", delayMs: 30 });
    const tenantId = await createTenant("hp");
    const svcs: TestService[] = [];
    for (let s = 0; s < 4; s++) {
      svcs.push(
        await createHealthService(
          systemPool(),
          tenantId,
          {},
          Array.from({ length: 10 }, (_, i) => ({ url: `${up.url}/s${s}i${i}` })),
        ),
      );
    }
    const ids = svcs.flatMap((s) => s.instanceIds);
    const timings: number[] = [];
    for (let roundNo = 1; roundNo <= 3; roundNo++) {
      await dueNow(tenantId);
      const [a, b] = await Promise.all([
        round(tenantId, { workerId: "w-a", batch: 25, concurrency: 8 }),
        round(tenantId, { workerId: "w-b", batch: 25, concurrency: 8 }),
      ]);
      timings.push(a.durationMs, b.durationMs);
      expect(a.leased + b.leased).toBe(40);
      expect(a.leased).toBeGreaterThan(0);
      expect(b.leased).toBeGreaterThan(0);
      expect(a.probed + b.probed).toBe(40);
      for (const [path, n] of up.hits) expect([path, n]).toEqual([path, roundNo]);
      expect(up.hits.size).toBe(40);
    }
    const { rows } = await systemPool().query<{ instance_id: string; n: number; workers: string[] }>(
      `SELECT instance_id, count(*)::int AS n, array_agg(DISTINCT worker_id) AS workers
         FROM health_checks WHERE instance_id = ANY($1::uuid[]) GROUP BY instance_id`,
      [ids],
    );
    expect(rows).toHaveLength(40);
    for (const r of rows) expect(r.n).toBe(3);
    const workers = new Set(rows.flatMap((r) => r.workers));
    expect([...workers].sort()).toEqual(["w-a", "w-b"]);
    console.info(`two workers, 40 instances, 30 ms upstream: round durations ${timings.join(", ")} ms`);
  });

  it("skips an instance leased by another worker until that lease expires", async () => {
    const up = await upstream();
    const { tenantId, svc } = await setup({}, [{ url: up.url }]);
    await systemPool().query(
      `UPDATE instances SET leased_until = now() + interval '1 minute', leased_by = 'other' WHERE id = $1`,
      [svc.instanceIds[0]],
    );
    expect(await round(tenantId)).toMatchObject({ leased: 0 });
    await systemPool().query(`UPDATE instances SET leased_until = now() - interval '1 second' WHERE id = $1`, [
      svc.instanceIds[0],
    ]);
    expect(await round(tenantId)).toMatchObject({ leased: 1, probed: 1 });
  });

  it("keeps a late result as history but leaves the instance alone when its lease was taken over", async () => {
    const up = await upstream({ kind: "slow", delayMs: 300 });
    const { tenantId, svc } = await setup({}, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    const pending = round(tenantId);
    await expect.poll(() => up.totalHits(), { timeout: 2_000 }).toBe(1);
    // another worker took the lease over while the probe was in flight
    await systemPool().query(
      `UPDATE instances SET leased_by = 'w-other', leased_until = now() + interval '1 minute' WHERE id = $1`,
      [id],
    );
    const r = await pending;
    expect(r).toMatchObject({ probed: 1, lostLeases: 1, instanceChanges: 0 });
    expect(await checks(id)).toHaveLength(1);
    expect(await instanceRow(id)).toMatchObject({ status: "unknown", leased_by: "w-other", last_checked_at: null });
  });

  it("schedules the next check at the scheduled time + interval (no drift), or now + interval when that is past", async () => {
    const up = await upstream({ kind: "slow", delayMs: 150 });
    const { tenantId, svc } = await setup({ checkIntervalSeconds: 5 }, [{ url: up.url }]);
    const id = svc.instanceIds[0]!;
    const { rows } = await systemPool().query<{ s: Date }>(
      `UPDATE instances SET next_check_at = now() - interval '1 second' WHERE id = $1 RETURNING next_check_at AS s`,
      [id],
    );
    const scheduled = rows[0]!.s.getTime();
    await round(tenantId);
    expect((await instanceRow(id)).next_check_at.getTime()).toBe(scheduled + 5_000);

    // missed by an hour (worker down): the next check is an interval from now, not a catch-up burst
    await systemPool().query(`UPDATE instances SET next_check_at = now() - interval '1 hour' WHERE id = $1`, [id]);
    const before = (await systemPool().query<{ t: Date }>(`SELECT now() AS t`)).rows[0]!.t.getTime();
    await round(tenantId);
    const after = (await systemPool().query<{ t: Date }>(`SELECT now() AS t`)).rows[0]!.t.getTime();
    const next = (await instanceRow(id)).next_check_at.getTime();
    expect(next).toBeGreaterThanOrEqual(before + 5_000);
    expect(next).toBeLessThanOrEqual(after + 5_000);
  });

  it("probeUntilIdle runs rounds until nothing is due", async () => {
    const up = await upstream();
    const tenantId = await createTenant("hp");
    await createHealthService(
      systemPool(),
      tenantId,
      {},
      Array.from({ length: 12 }, (_, i) => ({ url: `${up.url}/n${i}` })),
    );
    const r = await probeUntilIdle({ pool: systemPool(), workerId: "w-idle", policy, tenantId, batch: 5 });
    expect(r).toMatchObject({ rounds: 3, leased: 12, probed: 12, pass: 12 });
  });

  it("probes 200 instances in one round under the concurrency cap", async () => {
    const up = await upstream({ kind: "slow", delayMs: 20 });
    const tenantId = await createTenant("hp");
    for (let s = 0; s < 20; s++) {
      await createHealthService(
        systemPool(),
        tenantId,
        // generous limits: this test is about the cap, not about a loaded CI host's latency
        { timeoutMs: 10_000, latencyBudgetMs: 10_000 },
        Array.from({ length: 10 }, (_, i) => ({ url: `${up.url}/x${s}-${i}` })),
      );
    }
    up.resetPeak();
    const r = await round(tenantId, { concurrency: 50, batch: 200 });
    expect(r).toMatchObject({ leased: 200, probed: 200, pass: 200 });
    expect(up.peakInFlight).toBeLessThanOrEqual(50);
    expect(up.peakInFlight).toBeGreaterThan(10);
    // 200 probes of 20 ms with at most 50 in flight: at least 4 waves
    expect(r.durationMs).toBeGreaterThanOrEqual(80);
    console.info(
      `one round, 200 instances, concurrency 50, 20 ms upstream: ${r.durationMs} ms, peak ${up.peakInFlight} in flight`,
    );
  });
});
