import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forceCircuit } from "../circuit/circuit-store";
import { systemPool } from "../db/pool";
import { runProbeRound } from "../health/prober";
import { createHealthService, type ServiceSettings } from "../health/test-fixtures";
import { startUpstream, type Upstream } from "../health/test-upstream";
import { createAgency } from "../testing/fixtures";
import { until } from "../testing/poll";
import { loopbackPolicy, startTestGateway, type TestGateway } from "./test-gateway";

/**
 * Traffic after an outage (issue 10, "failures after recovery"): a real upstream goes down and
 * comes back, a real prober round (in-process, this tenant only) sees it, a real gateway
 * replica routes. Once a probe round trusts the instance again, a burst of concurrent calls
 * gets no 503 — the prober closes the breaker it opened, and when nothing passes its breaker
 * a health-green instance still serves ("panic routing"). A forced-open breaker stays shut.
 */
const db = () => systemPool();
let gw: TestGateway<never>;
const lines: Record<string, unknown>[] = [];
const upstreams: Upstream[] = [];

beforeAll(async () => {
  const log = pino(
    { level: "info" },
    { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  gw = await startTestGateway<never>({ log });
});
afterAll(async () => {
  await gw.close();
  await Promise.all(upstreams.map((u) => u.close().catch(() => {})));
});

async function setup(settings: ServiceSettings = {}, openSeconds = 30) {
  const a = await createAgency();
  const up = await startUpstream({ kind: "ok" });
  upstreams.push(up);
  const svc = await createHealthService(db(), a.tenantId, { failureThreshold: 1, successThreshold: 1, ...settings }, [
    { url: up.url },
  ]);
  await db().query(`UPDATE services SET breaker_open_seconds = $2 WHERE id = $1`, [svc.id, openSeconds]);
  const id = svc.instanceIds[0]!;
  const call = (path = "/work") =>
    fetch(`${gw.url}/api/v1/gw/${svc.name}${path}`, { headers: { authorization: `Bearer ${a.operator.token}` } });
  /** one prober round over this tenant's instances, all made due first */
  const probe = async () => {
    await db().query(`UPDATE instances SET next_check_at = now() WHERE tenant_id = $1`, [a.tenantId]);
    return runProbeRound({ pool: db(), workerId: "w-recovery", policy: loopbackPolicy, tenantId: a.tenantId });
  };
  const row = async () =>
    (
      await db().query<{
        state: string;
        forced: string | null;
        reason: string;
        open_until: Date | null;
        past: boolean;
        version: string;
      }>(
        `SELECT state, forced, reason, open_until, open_until <= now() AS past, version FROM circuits WHERE instance_id = $1`,
        [id],
      )
    ).rows[0];
  const inst = () => gw.gateway.table.instance(id);
  /** until this replica has the stored breaker row and the given health status */
  const synced = async (status: string) => {
    const want = await row();
    await until(() => inst()?.status === status && (!want || inst()?.breaker.version === Number(want.version)), 5_000);
  };
  return { a, up, svc, id, call, probe, row, inst, synced };
}

/** N concurrent calls; the statuses, sorted. */
async function burst(call: () => Promise<Response>, n: number): Promise<number[]> {
  const rs = await Promise.all(Array.from({ length: n }, () => call()));
  await Promise.all(rs.map((r) => r.arrayBuffer()));
  return rs.map((r) => r.status).sort();
}

describe("after an outage the prober saw", () => {
  it.each([
    ["still inside its open period", 30],
    ["whose open period ran out during the outage", 1],
  ])(
    "a breaker the prober opened (%s) closes on the first passing round: a burst gets 0 × 503",
    async (_label, openSeconds) => {
      const s = await setup({}, openSeconds);
      await s.probe();
      expect((await s.call()).status).toBe(200);

      await s.up.down();
      await s.probe();
      expect(await s.row()).toMatchObject({ state: "open", reason: "health check: connection refused (1 failure)" });
      await s.synced("red");
      const down = await s.call();
      expect(down.status).toBe(503); // red and open: not even panic routing sends there
      if (openSeconds === 1) await new Promise((r) => setTimeout(r, 1_100));

      await s.up.up();
      s.up.set({ kind: "slow", delayMs: 300 }); // the burst's calls overlap: trials alone could not carry it
      const r = await s.probe();
      expect(r).toMatchObject({ pass: 1, instanceChanges: 1 });
      expect(await s.row()).toMatchObject({ state: "closed", forced: null, open_until: null });
      expect((await s.row())!.reason).toMatch(/^health check passes again/);
      await s.synced("green");

      const statuses = await burst(s.call, 20);
      expect(statuses.filter((x) => x === 503)).toHaveLength(0);
      expect(statuses.every((x) => x === 200)).toBe(true);
      const ev = await db().query<{ from_state: string; to_state: string; actor: string }>(
        `SELECT from_state, to_state, actor FROM circuit_events WHERE instance_id = $1 ORDER BY id`,
        [s.id],
      );
      expect(ev.rows).toEqual([
        { from_state: "closed", to_state: "open", actor: "prober:w-recovery" },
        { from_state: "open", to_state: "closed", actor: "prober:w-recovery" },
      ]);
    },
  );

  it("a breaker the gateway opened has its open period ended (trials decide), and a burst still gets 0 × 503", async () => {
    const s = await setup({}, 300);
    await s.probe();
    s.up.set({ kind: "status", status: 500 });
    for (let i = 0; i < 5; i++) await s.call();
    await gw.gateway.sync.settled();
    expect(await s.row()).toMatchObject({ state: "open", reason: "5 consecutive failures" });

    await s.up.down();
    await s.probe();
    await s.synced("red");
    await s.up.up();
    s.up.set({ kind: "slow", delayMs: 300 });
    await s.probe();
    const stored = (await s.row())!;
    expect(stored).toMatchObject({ state: "open", past: true });
    expect(stored.reason).toMatch(/^health check passes again/);
    await s.synced("green");

    const statuses = await burst(s.call, 20);
    expect(statuses.filter((x) => x === 503)).toHaveLength(0);
    expect(statuses.every((x) => x === 200)).toBe(true);
  });
});

describe("panic routing", () => {
  it("sends to a health-green instance when no breaker lets a call through, and says so", async () => {
    const s = await setup({}, 300);
    await s.probe(); // green
    await s.synced("green");
    s.up.set({ kind: "status", status: 500 });
    for (let i = 0; i < 5; i++) await s.call();
    expect(s.inst()!.breaker.state).toBe("open");
    s.up.set({ kind: "ok" });

    const hits = s.up.totalHits();
    const r = await s.call("/panic");
    expect(r.status).toBe(200);
    expect(r.headers.get("x-hms-failover")).toMatch(/^panic routing: /);
    expect(s.up.totalHits()).toBe(hits + 1);
    const line = lines.find((l) => l.tenant === s.a.tenantId && l.status === 200 && l.panic === true);
    expect(line).toMatchObject({ outcome: "panic_routed", instance: s.id });
  });

  it("never sends to a red instance, whatever its breaker", async () => {
    const s = await setup();
    await s.up.down();
    await s.probe();
    await s.synced("red");
    const r = await s.call();
    expect(r.status).toBe(503);
    expect(((await r.json()) as { code: string }).code).toBe("no_healthy_instance");
  });
});

describe("a forced-open breaker", () => {
  it("is never changed by health checks and never panic-routed to", async () => {
    const s = await setup();
    await s.probe();
    await forceCircuit(db(), { instanceId: s.id, action: "open", tenantScope: s.a.tenantId, actor: "op" });
    await s.up.down();
    await s.probe();
    await s.up.up();
    await s.probe();
    expect(await s.row()).toMatchObject({ state: "open", forced: "open" });
    await s.synced("green");
    const hits = s.up.totalHits();
    const statuses = await burst(s.call, 5);
    expect(statuses).toEqual([503, 503, 503, 503, 503]);
    expect(s.up.totalHits()).toBe(hits);
  });
});
