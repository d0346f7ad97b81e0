import type pg from "pg";
import { z } from "zod";
import { withTransaction } from "../db/pool";
import { isAppError } from "../http/app-error";
import type { NetworkPolicy } from "../net/network-policy";
import { safeRequest } from "../net/safe-http";
import { healthPath } from "../registry/service-schema";
import { logger } from "../telemetry/logger";
import { BUCKET_COUNT, bucketIndex } from "./latency-buckets";
import { interpretError, interpretResponse, type ProbeVerdict } from "./probe-outcome";
import { announceCircuit, applyHealthVerdict, type CircuitRow } from "../circuit/circuit-store";
import { HEALTH_CHANNEL, notifyHealthChange, recomputeServiceStatus } from "./service-status";
import { nextInstanceState, type HealthStatus } from "./status-rules";

export { HEALTH_CHANNEL, notifyHealthChange, recomputeServiceStatus };

/**
 * The health prober (ARCHITECTURE.md §4): lease due instances with SKIP LOCKED, probe them under
 * a concurrency cap, store each service's results (raw checks + per-minute roll-ups + instance
 * states + the recomputed service status) in one transaction, and announce changes with NOTIFY
 * after the commit.
 *
 * Safe on any number of workers: an instance is leased by one statement that skips rows other
 * workers hold, and a lease expires on its own if its worker dies mid-round.
 */

/** How often a worker looks for due instances: bounds how late a probe starts (measured in docs/performance.md). */
export const PROBE_TICK_MS = 250;
/** Largest body read from a health endpoint (the rest is not read; a cut health+json body is a warn). */
export const PROBE_MAX_BODY_BYTES = 64 * 1024;
/** A service's timeout is clamped to this when probing (a lease must outlive every probe in it). */
export const PROBE_MAX_TIMEOUT_MS = 60_000;
const LEASE_MARGIN_MS = 30_000;
const PROBE_HEADERS = {
  accept: "application/health+json, application/json;q=0.9, */*;q=0.5",
  "user-agent": "hms-sys-health/1",
};

export interface ProbeTarget {
  url: string;
  healthPath: string;
}

/** `url` (a base URL, maybe with a path prefix) + the health path, e.g. http://h:7100/api + /health. */
export function probeUrl(t: ProbeTarget): string {
  const base = t.url.replace(/\/+$/, "");
  const path = t.healthPath.startsWith("/") ? t.healthPath : `/${t.healthPath}`;
  return `${base}${path}`;
}

/**
 * One probe, never throwing for the target's faults: timeouts, refusals and policy refusals are a
 * `fail`. With `throwRefusals`, a URL or network-policy refusal (a 422 AppError: `url_*`,
 * `dns_resolution_failed`, `ssrf_*`) is thrown instead (the "test this URL now" endpoint).
 */
export async function probeOnce(
  t: ProbeTarget & { timeoutMs: number; latencyBudgetMs: number },
  policy: NetworkPolicy,
  opts: { throwRefusals?: boolean } = {},
): Promise<ProbeVerdict & { url: string }> {
  const url = probeUrl(t);
  const timeoutMs = Math.min(Math.max(1, t.timeoutMs), PROBE_MAX_TIMEOUT_MS);
  const started = performance.now();
  try {
    const res = await safeRequest(url, {
      method: "GET",
      timeoutMs,
      policy,
      maxBodyBytes: PROBE_MAX_BODY_BYTES,
      headers: PROBE_HEADERS,
    });
    return { ...interpretResponse(res, { latencyBudgetMs: t.latencyBudgetMs }), url };
  } catch (err) {
    if (opts.throwRefusals && isAppError(err)) throw err;
    const elapsed = Math.round(performance.now() - started);
    // A refusal before any connection has no latency; a timeout or reset took this long.
    const code = (err as { code?: unknown }).code;
    const latencyMs = typeof code === "string" && /^(ssrf_|url_|dns_)/.test(code) ? null : elapsed;
    return { ...interpretError(err, { timeoutMs, latencyMs }), url };
  }
}

interface LeasedRow {
  id: string;
  service_id: string;
  tenant_id: string;
  service_name: string;
  url: string;
  region: string;
  enabled: boolean;
  status: HealthStatus;
  consecutive_failures: number;
  consecutive_successes: number;
  scheduled_at: Date;
  health_path: string;
  timeout_ms: number;
  check_interval_seconds: number;
  failure_threshold: number;
  success_threshold: number;
  latency_budget_ms: number;
  breaker_open_seconds: number;
}

export interface ProbeRoundOptions {
  pool: pg.Pool;
  workerId: string;
  policy: NetworkPolicy;
  /** probes in flight at once (default 50) */
  concurrency?: number;
  /** instances leased per round (default 200) */
  batch?: number;
  /** clock for check timestamps (`health_checks.at`, roll-up minute); leases and schedules use the database clock */
  now?: () => Date;
  /** only this tenant's instances (per-tenant workers; keeps tests independent) */
  tenantId?: string;
  signal?: AbortSignal;
}

export interface ProbeRoundResult {
  leased: number;
  probed: number;
  /** drained instances leased, not probed (their service recomputed) */
  drained: number;
  pass: number;
  warn: number;
  fail: number;
  /** instances whose status changed */
  instanceChanges: number;
  /** services whose status or reason changed */
  serviceChanges: number;
  /** results not applied to the instance because its lease had been taken over */
  lostLeases: number;
  durationMs: number;
}

function emptyRoundResult(): ProbeRoundResult {
  return {
    leased: 0,
    probed: 0,
    drained: 0,
    pass: 0,
    warn: 0,
    fail: 0,
    instanceChanges: 0,
    serviceChanges: 0,
    lostLeases: 0,
    durationMs: 0,
  };
}

/**
 * Leases the due instances (one statement), joined with their service's settings. Drained
 * (enabled = false) instances are leased too but never probed: the registry drains an instance
 * by setting `next_check_at = now()`, and the round then only recomputes the service (the
 * drained instance stops counting) and reschedules it; it keeps its last state, shown as drained.
 */
const LEASE_SQL = `
WITH due AS MATERIALIZED (
  SELECT i.id FROM instances i
   WHERE i.next_check_at <= now()
     AND (i.leased_until IS NULL OR i.leased_until < now())
     AND ($4::text IS NULL OR i.tenant_id = $4)
   ORDER BY i.next_check_at
   LIMIT $2
   FOR UPDATE SKIP LOCKED
)
UPDATE instances i
   SET leased_until = now() + make_interval(secs => ($3::int * least(s.timeout_ms, ${PROBE_MAX_TIMEOUT_MS}) + ${LEASE_MARGIN_MS}) / 1000.0),
       leased_by = $1
  FROM due, services s
 WHERE i.id = due.id AND s.id = i.service_id
RETURNING i.id, i.service_id, i.tenant_id, s.name AS service_name, i.url, i.region, i.enabled, i.status,
          i.consecutive_failures, i.consecutive_successes, i.next_check_at AS scheduled_at,
          s.health_path, s.timeout_ms, s.check_interval_seconds, s.failure_threshold, s.success_threshold,
          s.latency_budget_ms, s.breaker_open_seconds`;

/** Raw checks of one service's round, one row per instance, in one statement. */
const CHECKS_SQL = `
INSERT INTO health_checks (instance_id, service_id, tenant_id, at, outcome, http_status, latency_ms, error, worker_id)
SELECT x.instance_id, $1, $2, x.at, x.outcome, x.http_status, x.latency_ms, x.error, $3
  FROM unnest($4::uuid[], $5::timestamptz[], $6::text[], $7::int[], $8::int[], $9::text[])
       AS x(instance_id, at, outcome, http_status, latency_ms, error)`;

/**
 * Adds each check to its instance's minute (one statement for the service's round; an instance
 * appears once per round, so no row conflicts with itself). A new minute starts with a
 * zero-filled histogram plus this check's bucket; an existing one adds element-wise.
 */
const ROLLUP_SQL = `
INSERT INTO health_rollups AS r (instance_id, minute, service_id, tenant_id, passes, warns, fails,
                                 latency_sum_ms, latency_max_ms, latency_buckets)
SELECT x.instance_id, date_trunc('minute', x.at), $1, $2,
       (x.outcome = 'pass')::int, (x.outcome = 'warn')::int, (x.outcome = 'fail')::int,
       coalesce(x.latency_ms, 0), coalesce(x.latency_ms, 0),
       (SELECT array_agg(CASE WHEN k = x.bucket THEN 1 ELSE 0 END ORDER BY k) FROM generate_series(1, ${BUCKET_COUNT}) k)
  FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::int[], $7::int[]) AS x(instance_id, at, outcome, latency_ms, bucket)
ON CONFLICT (instance_id, minute) DO UPDATE SET
  passes = r.passes + EXCLUDED.passes,
  warns = r.warns + EXCLUDED.warns,
  fails = r.fails + EXCLUDED.fails,
  latency_sum_ms = r.latency_sum_ms + EXCLUDED.latency_sum_ms,
  latency_max_ms = greatest(r.latency_max_ms, EXCLUDED.latency_max_ms),
  latency_buckets = (
    SELECT array_agg(coalesce(a, 0) + coalesce(b, 0) ORDER BY n)
      FROM unnest(coalesce(r.latency_buckets, array_fill(0, ARRAY[${BUCKET_COUNT}])), EXCLUDED.latency_buckets)
           WITH ORDINALITY AS t(a, b, n)
  )`;

/**
 * The instances' new state, only where this worker still holds the lease: a result that arrives
 * after its lease was taken over is kept as history (check + roll-up) but does not overwrite the
 * newer state. Next check = the scheduled time + interval (no drift), or now + interval when that
 * is already past (a worker was down: no catch-up burst).
 */
const INSTANCES_SQL = `
UPDATE instances i SET
  status = x.status::"HealthStatus", status_reason = x.reason,
  consecutive_failures = x.cf, consecutive_successes = x.cs,
  last_checked_at = x.at, last_latency_ms = x.latency_ms, last_error = x.error,
  next_check_at = CASE WHEN x.scheduled + make_interval(secs => x.every) > now() THEN x.scheduled + make_interval(secs => x.every)
                       ELSE now() + make_interval(secs => x.every) END,
  leased_until = NULL, leased_by = NULL
  FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::int[], $7::timestamptz[], $8::int[], $9::text[],
              $10::timestamptz[], $11::int[])
       AS x(id, status, reason, cf, cs, at, latency_ms, error, scheduled, every)
 WHERE i.id = x.id AND i.leased_by = $1
RETURNING i.id`;

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

type Done = { row: LeasedRow; drained: true } | { row: LeasedRow; drained: false; verdict: ProbeVerdict; at: Date };

/**
 * One round: lease up to `batch` due instances, probe them (at most `concurrency` at once), and
 * store each service's results in ONE transaction once all its instances leased in this round
 * are done: raw checks, roll-ups, instance states, then one recomputation of the service. So a
 * round never shows a half-updated service (e.g. a transient yellow while a new service's
 * second instance is still being probed), and writes one status event per real change.
 */
export async function runProbeRound(opts: ProbeRoundOptions): Promise<ProbeRoundResult> {
  const started = performance.now();
  const concurrency = Math.max(1, opts.concurrency ?? 50);
  const batch = Math.max(1, opts.batch ?? 200);
  const now = opts.now ?? (() => new Date());
  const result = emptyRoundResult();

  // A probe waits for a free lane: the lease must cover the waves of probes ahead of it.
  const waves = Math.ceil(batch / concurrency);
  const { rows } = await opts.pool.query<LeasedRow>(LEASE_SQL, [opts.workerId, batch, waves, opts.tenantId ?? null]);
  result.leased = rows.length;

  const groups = new Map<string, { remaining: number; done: Done[] }>();
  for (const row of rows) {
    const g = groups.get(row.service_id) ?? { remaining: 0, done: [] };
    g.remaining++;
    groups.set(row.service_id, g);
  }

  await eachLimited(rows, concurrency, async (row) => {
    const g = groups.get(row.service_id)!;
    // After an abort the remaining instances are skipped; their leases lapse and another
    // worker (or the next start) probes them.
    if (!opts.signal?.aborted) {
      if (!row.enabled) {
        result.drained++;
        g.done.push({ row, drained: true });
      } else {
        const at = now();
        const verdict = await probeOnce(
          {
            url: row.url,
            healthPath: row.health_path,
            timeoutMs: row.timeout_ms,
            latencyBudgetMs: row.latency_budget_ms,
          },
          opts.policy,
        );
        result.probed++;
        result[verdict.outcome]++;
        g.done.push({ row, drained: false, verdict, at });
      }
    }
    if (--g.remaining > 0 || g.done.length === 0) return;
    try {
      const applied = await recordService(opts.pool, opts.workerId, row.service_id, g.done);
      result.lostLeases += applied.lostLeases;
      result.instanceChanges += applied.instanceChanges;
      if (applied.serviceChanged) result.serviceChanges++;
      if (applied.instanceChanges > 0 || applied.serviceChanged) {
        await notifyHealthChange(opts.pool, row.tenant_id, row.service_name);
      }
      for (const c of applied.circuits) await announceCircuit(opts.pool, c, `prober:${opts.workerId}`);
    } catch (err) {
      // The leases lapse and the instances are probed again; the round goes on.
      logger.warn({ err, serviceId: row.service_id }, "could not store health checks");
    }
  });

  result.durationMs = Math.round(performance.now() - started);
  return result;
}

interface BreakerFeed {
  instanceId: string;
  healthy: boolean;
  reason: string;
}

/**
 * Stores one service's results of this round in one transaction — raw checks, roll-ups and
 * instance states, each one statement for all its instances — and recomputes the service.
 */
async function recordService(
  pool: pg.Pool,
  workerId: string,
  serviceId: string,
  done: Done[],
): Promise<{ lostLeases: number; instanceChanges: number; serviceChanged: boolean; circuits: CircuitRow[] }> {
  const first = done[0]!.row;
  const checked = done.filter((d): d is Extract<Done, { drained: false }> => !d.drained);
  const drained = done.filter((d) => d.drained).map((d) => d.row);
  const next = new Map(
    checked.map((d) => [
      d.row.id,
      nextInstanceState(
        {
          status: d.row.status,
          consecutiveFailures: d.row.consecutive_failures,
          consecutiveSuccesses: d.row.consecutive_successes,
        },
        { outcome: d.verdict.outcome, reason: d.verdict.reason },
        { failureThreshold: d.row.failure_threshold, successThreshold: d.row.success_threshold },
      ),
    ]),
  );
  // Latency histograms describe answers: a check that got no HTTP response adds no latency.
  const answered = (v: ProbeVerdict) => (v.httpStatus === null ? null : v.latencyMs);

  return withTransaction(pool, async (tx) => {
    // Service row first, instances after: the registry locks in the same order (no deadlock),
    // and concurrent rounds of one service (several workers) serialise here.
    await tx.query(`SELECT 1 FROM services WHERE id = $1 FOR UPDATE`, [serviceId]);
    let held = 0;
    let instanceChanges = 0;
    const breakerFeed: BreakerFeed[] = [];
    if (checked.length > 0) {
      const ids = checked.map((d) => d.row.id);
      const ats = checked.map((d) => d.at);
      const outcomes = checked.map((d) => d.verdict.outcome);
      await tx.query(CHECKS_SQL, [
        serviceId,
        first.tenant_id,
        workerId,
        ids,
        ats,
        outcomes,
        checked.map((d) => d.verdict.httpStatus),
        checked.map((d) => d.verdict.latencyMs),
        checked.map((d) => (d.verdict.outcome === "pass" ? null : d.verdict.reason)),
      ]);
      await tx.query(ROLLUP_SQL, [
        serviceId,
        first.tenant_id,
        ids,
        ats,
        outcomes,
        checked.map((d) => answered(d.verdict)),
        checked.map((d) => {
          const ms = answered(d.verdict);
          return ms === null ? null : bucketIndex(ms) + 1;
        }),
      ]);
      const upd = await tx.query<{ id: string }>(INSTANCES_SQL, [
        workerId,
        ids,
        checked.map((d) => next.get(d.row.id)!.status),
        checked.map((d) => next.get(d.row.id)!.reason),
        checked.map((d) => next.get(d.row.id)!.consecutiveFailures),
        checked.map((d) => next.get(d.row.id)!.consecutiveSuccesses),
        ats,
        checked.map((d) => d.verdict.latencyMs),
        checked.map((d) => (d.verdict.outcome === "fail" ? d.verdict.reason : null)),
        checked.map((d) => d.row.scheduled_at),
        checked.map((d) => Math.max(1, d.row.check_interval_seconds)),
      ]);
      held += upd.rows.length;
      const byId = new Map(checked.map((d) => [d.row.id, d.row.status]));
      for (const { id } of upd.rows) {
        const before = byId.get(id);
        const after = next.get(id)!;
        if (before === after.status) continue;
        instanceChanges++;
        if (after.status === "red") breakerFeed.push({ instanceId: id, healthy: false, reason: after.reason ?? "red" });
        else if (before === "red") breakerFeed.push({ instanceId: id, healthy: true, reason: "" });
      }
    }
    if (drained.length > 0) {
      // A drained instance is not probed: only rescheduled (its service is recomputed below).
      const upd = await tx.query(
        `UPDATE instances i SET next_check_at = now() + make_interval(secs => x.every), leased_until = NULL, leased_by = NULL
           FROM unnest($2::uuid[], $3::int[]) AS x(id, every)
          WHERE i.id = x.id AND i.leased_by = $1`,
        [workerId, drained.map((r) => r.id), drained.map((r) => Math.max(1, r.check_interval_seconds))],
      );
      held += upd.rowCount ?? 0;
    }
    // Health results feed the breakers (issue 4): red trips it; trusted-again closes a breaker the
    // health check opened and ends the open period of one the gateway opened (applyHealthVerdict;
    // forced ones are left alone) — before the recompute, so the stored status never passes
    // through a state in between.
    const circuits: CircuitRow[] = [];
    for (const f of breakerFeed) {
      const c = await applyHealthVerdict(tx, {
        ...f,
        actor: `prober:${workerId}`,
        openSeconds: first.breaker_open_seconds,
      });
      if (c) circuits.push(c);
    }
    const svc = await recomputeServiceStatus(tx, serviceId);
    return { lostLeases: done.length - held, instanceChanges, serviceChanged: svc.changed, circuits };
  });
}

/** Rounds until nothing is due (or `maxRounds`), for the worker's `health-probe` loop. */
export async function probeUntilIdle(
  opts: ProbeRoundOptions & { maxRounds?: number },
): Promise<ProbeRoundResult & { rounds: number }> {
  const total = { ...emptyRoundResult(), rounds: 0 };
  const batch = Math.max(1, opts.batch ?? 200);
  const maxRounds = opts.maxRounds ?? 50;
  while (total.rounds < maxRounds && !opts.signal?.aborted) {
    const r = await runProbeRound(opts);
    total.rounds++;
    for (const k of Object.keys(r) as (keyof ProbeRoundResult)[]) total[k] += r[k];
    if (r.leased < batch) break;
  }
  return total;
}

/** `POST /api/v1/probe` body: probe a URL once now ("test this URL" on the registration form). */
export const probeRequest = z.strictObject({
  url: z.string().trim().min(1).max(2048),
  healthPath: healthPath.default("/health"),
  timeoutMs: z.number().int().min(100).max(30_000).default(2_000),
  latencyBudgetMs: z.number().int().min(1).max(60_000).default(1_000),
});
export type ProbeRequest = z.infer<typeof probeRequest>;

/**
 * One probe now, nothing stored. A URL the network policy refuses is a 422 problem (thrown);
 * an unreachable, slow or failing target is an answer (`outcome: "fail"`, with the reason).
 */
export async function testProbe(
  input: ProbeRequest,
  policy: NetworkPolicy,
): Promise<{
  url: string;
  outcome: ProbeVerdict["outcome"];
  reason: string | null;
  httpStatus: number | null;
  latencyMs: number | null;
}> {
  const v = await probeOnce(
    {
      url: input.url,
      healthPath: input.healthPath,
      timeoutMs: input.timeoutMs,
      latencyBudgetMs: input.latencyBudgetMs,
    },
    policy,
    { throwRefusals: true },
  );
  return { url: v.url, outcome: v.outcome, reason: v.reason, httpStatus: v.httpStatus, latencyMs: v.latencyMs };
}
