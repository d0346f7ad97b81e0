import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { systemPool } from "../db/pool";
import { createHealthService, type TestService } from "../health/test-fixtures";
import { createTenant } from "../testing/fixtures";
import { circuitsForService, getCircuit, listCircuits, type CircuitView } from "./circuit-queries";

/**
 * The breakers' read side against a real database: rows written directly with SQL (no gateway),
 * so each figure the page shows is checked against what was stored.
 */

const tag = randomBytes(3).toString("hex");
const replica = (name: string) => `test-${tag}-${name}`;

async function circuitRow(
  svc: TestService,
  instanceId: string,
  row: {
    state: "closed" | "open" | "half_open";
    openUntil?: string;
    forced?: "open" | "closed";
    forcedBy?: string;
    reason?: string;
    failureRatePct?: number;
    windowCalls?: number;
    tripStreak?: number;
    changedBy?: string;
    sinceAgo?: string;
  },
) {
  await systemPool().query(
    `INSERT INTO circuits (instance_id, service_id, tenant_id, state, open_until, forced, forced_by, forced_at, reason,
                           since, failure_rate_pct, window_calls, trip_streak, changed_by, version)
     VALUES ($1, $2, $3, $4::"CircuitState", now() + $5::interval, $6, $7, CASE WHEN $6::text IS NULL THEN NULL ELSE now() END,
             $8, now() - $9::interval, $10, $11, $12, $13, 1)`,
    [
      instanceId,
      svc.id,
      svc.tenantId,
      row.state,
      row.openUntil ?? null,
      row.forced ?? null,
      row.forcedBy ?? null,
      row.reason ?? null,
      row.sinceAgo ?? "0 seconds",
      row.failureRatePct ?? null,
      row.windowCalls ?? null,
      row.tripStreak ?? 0,
      row.changedBy ?? "",
    ],
  );
}

async function event(svc: TestService, instanceId: string, toState: string, ago: string) {
  await systemPool().query(
    `INSERT INTO circuit_events (instance_id, service_id, tenant_id, at, from_state, to_state, reason, actor)
     VALUES ($1, $2, $3, now() - $4::interval, 'closed', $5, 'test', 'test')`,
    [instanceId, svc.id, svc.tenantId, ago, toState],
  );
}

async function heartbeat(id: string, ago: string, circuits: Record<string, unknown>) {
  await systemPool().query(
    `INSERT INTO gateway_replicas (replica_id, hostname, pid, last_seen_at, circuits)
     VALUES ($1, 'host-' || $1, 1, now() - $2::interval, $3)`,
    [id, ago, JSON.stringify(circuits)],
  );
}

/** Only this file's replicas: other test files may heartbeat into the same database. */
const mine = (c: CircuitView) => c.replicas.filter((r) => r.replicaId.startsWith(`test-${tag}-`));
const urls = (items: CircuitView[]) => items.map((c) => c.url);

describe("circuit queries", () => {
  let tenant: string;
  let other: string;
  let alpha: TestService;
  let beta: TestService;
  let gamma: TestService;
  // alpha: a1 open, a2 open past its period (reads half-open), a3 never tripped (no row)
  // beta: b1 forced closed, b2 forced open, b3 half-open
  let a1: string, a2: string, a3: string, b1: string, b2: string, b3: string, g1: string;

  beforeAll(async () => {
    tenant = await createTenant("cq");
    other = await createTenant("cx");
    const u = (s: string) => `http://127.0.0.1:9/${tag}/${s}`;
    alpha = await createHealthService(systemPool(), tenant, { name: "alpha" }, [
      { url: u("a1"), region: "primary", nextCheck: "never" },
      { url: u("a2"), region: "primary", nextCheck: "never" },
      { url: u("a3"), region: "secondary", nextCheck: "never" },
    ]);
    beta = await createHealthService(systemPool(), tenant, { name: "beta" }, [
      { url: u("b1"), nextCheck: "never" },
      { url: u("b2"), nextCheck: "never" },
      { url: u("b3"), enabled: false, nextCheck: "never" },
    ]);
    gamma = await createHealthService(systemPool(), other, { name: "gamma" }, [{ url: u("g1"), nextCheck: "never" }]);
    [a1, a2, a3] = alpha.instanceIds as [string, string, string];
    [b1, b2, b3] = beta.instanceIds as [string, string, string];
    [g1] = gamma.instanceIds as [string];

    await circuitRow(alpha, a1, {
      state: "open",
      openUntil: "30 seconds",
      reason: "60% of 20 calls failed in 10 s (trip 2: open 2× longer)",
      failureRatePct: 60,
      windowCalls: 20,
      tripStreak: 2,
      changedBy: "replica-1",
      sinceAgo: "5 seconds",
    });
    await circuitRow(alpha, a2, { state: "open", openUntil: "-1 second", reason: "5 consecutive failures" });
    await circuitRow(beta, b1, {
      state: "closed",
      forced: "closed",
      forcedBy: "op-x",
      reason: "forced closed by op-x",
    });
    await circuitRow(beta, b2, { state: "open", forced: "open", forcedBy: "op-y" });
    await circuitRow(beta, b3, { state: "half_open", reason: "trial calls" });
    await circuitRow(gamma, g1, { state: "open", openUntil: "1 minute" });

    // trips: a1 three in the last hour (+ one older, + a close that is not a trip), b2 one; g1 is another tenant's
    for (const ago of ["1 minute", "20 minutes", "59 minutes", "2 hours"]) await event(alpha, a1, "open", ago);
    await event(alpha, a1, "closed", "10 minutes");
    await event(beta, b2, "open", "5 minutes");
    for (let i = 0; i < 5; i++) await event(gamma, g1, "open", "1 minute");

    await heartbeat(replica("live-1"), "0 seconds", {
      [a1]: { state: "open", calls: 20, failureRatePct: 60, consecutiveFailures: 0, outstanding: 1 },
      [a2]: { state: "weird", calls: "many" },
    });
    await heartbeat(replica("live-2"), "3 seconds", {
      [a1]: { state: "closed", calls: 4, failureRatePct: null, consecutiveFailures: 2, outstanding: 0 },
    });
    await heartbeat(replica("stale"), "1 minute", { [a1]: { state: "open", calls: 1 } });
  });

  afterAll(async () => {
    await systemPool().query(`DELETE FROM gateway_replicas WHERE replica_id LIKE $1`, [`test-${tag}-%`]);
    await systemPool().query(`DELETE FROM circuit_events WHERE tenant_id = ANY($1)`, [[tenant, other]]);
    await systemPool().query(`DELETE FROM services WHERE tenant_id = ANY($1)`, [[tenant, other]]);
  });

  it("lists every instance of the tenant worst first: open, half-open, forced, closed; then service and URL", async () => {
    const { items, nextCursor } = await listCircuits(systemPool(), { tenant });
    expect(items.map((c) => c.instanceId)).toEqual([a1, b2, a2, b3, b1, a3]);
    expect(items.map((c) => c.state)).toEqual(["open", "open", "half_open", "half_open", "closed", "closed"]);
    expect(nextCursor).toBeNull();
  });

  it("shows the shared row: reason, failure rate, streak, since, open until, who changed it and trips in the last hour", async () => {
    const c = await getCircuit(systemPool(), tenant, a1);
    expect(c).toMatchObject({
      instanceId: a1,
      service: "alpha",
      tenant,
      region: "primary",
      enabled: true,
      health: "unknown",
      state: "open",
      forced: null,
      forcedBy: null,
      reason: "60% of 20 calls failed in 10 s (trip 2: open 2× longer)",
      failureRatePct: 60,
      windowCalls: 20,
      tripStreak: 2,
      tripsLastHour: 3,
      changedBy: "replica-1",
    });
    expect(Date.now() - Date.parse(c.since)).toBeGreaterThan(4_000);
    expect(Date.parse(c.openUntil!) - Date.now()).toBeGreaterThan(20_000);
  });

  it("reads an open breaker whose period is over as half-open (the next call is a trial)", async () => {
    const c = await getCircuit(systemPool(), tenant, a2);
    expect(c.state).toBe("half_open");
    expect(c.reason).toBe("5 consecutive failures");
  });

  it("shows an instance that never tripped as closed since it was registered", async () => {
    const c = await getCircuit(systemPool(), tenant, a3);
    const { rows } = await systemPool().query<{ created_at: Date }>(`SELECT created_at FROM instances WHERE id = $1`, [
      a3,
    ]);
    expect(c).toMatchObject({
      state: "closed",
      forced: null,
      reason: null,
      openUntil: null,
      failureRatePct: null,
      tripStreak: 0,
      tripsLastHour: 0,
      changedBy: null,
      since: rows[0]!.created_at.toISOString(),
    });
  });

  it("shows forced breakers with who forced them; a forced state wins over the stored one", async () => {
    expect(await getCircuit(systemPool(), tenant, b1)).toMatchObject({
      state: "closed",
      forced: "closed",
      forcedBy: "op-x",
    });
    const fo = await getCircuit(systemPool(), tenant, b2);
    expect(fo).toMatchObject({ state: "open", forced: "open", forcedBy: "op-y", tripsLastHour: 1 });
    expect(fo.forcedAt).toEqual(expect.any(String));
  });

  it("shows each live replica's local view; silent replicas drop out and unreadable entries read as no state", async () => {
    const c1 = await getCircuit(systemPool(), tenant, a1);
    expect(mine(c1)).toEqual([
      {
        replicaId: replica("live-1"),
        hostname: `host-${replica("live-1")}`,
        state: "open",
        calls: 20,
        failureRatePct: 60,
        consecutiveFailures: 0,
        outstanding: 1,
        lastSeenAt: expect.any(String),
      },
      {
        replicaId: replica("live-2"),
        hostname: `host-${replica("live-2")}`,
        state: "closed",
        calls: 4,
        failureRatePct: null,
        consecutiveFailures: 2,
        outstanding: 0,
        lastSeenAt: expect.any(String),
      },
    ]);
    const c2 = await getCircuit(systemPool(), tenant, a2);
    expect(mine(c2).map((r) => [r.replicaId, r.state, r.calls])).toEqual([
      [replica("live-1"), null, 0],
      [replica("live-2"), null, 0],
    ]);
  });

  it("filters by state (forced = any override) and by service", async () => {
    const by = async (o: { state?: "open" | "half_open" | "closed" | "forced"; service?: string }) =>
      (await listCircuits(systemPool(), { tenant, ...o })).items.map((c) => c.instanceId);
    expect(await by({ state: "open" })).toEqual([a1, b2]);
    expect(await by({ state: "half_open" })).toEqual([a2, b3]);
    expect(await by({ state: "closed" })).toEqual([b1, a3]);
    expect(await by({ state: "forced" })).toEqual([b2, b1]);
    expect(await by({ service: "beta" })).toEqual([b2, b3, b1]);
    expect(await by({ service: "beta", state: "open" })).toEqual([b2]);
    expect(await by({ service: "nope" })).toEqual([]);
  });

  it("summarises the whole scope whatever the filters, counting only this tenant's trips", async () => {
    const { summary, services } = await listCircuits(systemPool(), { tenant, state: "open", limit: 1 });
    expect(summary).toEqual({ total: 6, open: 2, halfOpen: 2, closed: 2, forced: 2, tripsLastHour: 4 });
    expect(services).toEqual(["alpha", "beta"]);
  });

  it("pages with a keyset cursor: every breaker once, in order, and the last page has no cursor", async () => {
    const all = (await listCircuits(systemPool(), { tenant })).items;
    const seen: CircuitView[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listCircuits(systemPool(), { tenant, limit: 4, cursor });
      seen.push(...page.items);
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(urls(seen)).toEqual(urls(all));
    await expect(listCircuits(systemPool(), { tenant, cursor: "not-a-cursor" })).rejects.toMatchObject({
      code: "invalid_request",
    });
  });

  it("scopes to the tenant: another tenant's breakers are never listed and cannot be read one by one", async () => {
    const mineOnly = await listCircuits(systemPool(), { tenant });
    expect(mineOnly.items.every((c) => c.tenant === tenant)).toBe(true);
    const theirs = await listCircuits(systemPool(), { tenant: other });
    expect(theirs.items.map((c) => c.instanceId)).toEqual([g1]);
    expect(theirs.summary).toMatchObject({ total: 1, open: 1, tripsLastHour: 5 });
    await expect(getCircuit(systemPool(), tenant, g1)).rejects.toMatchObject({ code: "not_found" });
    await expect(getCircuit(systemPool(), tenant, "not-a-uuid")).rejects.toMatchObject({ code: "not_found" });
    // a global admin (null) sees both
    const everyone = await listCircuits(systemPool(), { tenant: null, limit: 500 });
    const ids = new Set(everyone.items.map((c) => c.instanceId));
    expect([a1, b1, g1].every((id) => ids.has(id))).toBe(true);
  });

  it("lists one service's breakers for its page", async () => {
    expect((await circuitsForService(systemPool(), tenant, "beta")).map((c) => c.instanceId)).toEqual([b2, b3, b1]);
    expect(await circuitsForService(systemPool(), other, "beta")).toEqual([]);
  });

  it("reads a page in two statements, however many instances and replicas there are", async () => {
    const spy = vi.spyOn(systemPool(), "query");
    await listCircuits(systemPool(), { tenant });
    expect(spy).toHaveBeenCalledTimes(2);
    spy.mockRestore();
  });
});
