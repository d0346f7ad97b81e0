import type pg from "pg";
import { systemPool } from "../db/pool";
import { BUCKET_COUNT, bucketIndex } from "../health/latency-buckets";
import { logger } from "../telemetry/logger";
import { processState } from "../telemetry/process-global";
import { statusClassIndex } from "../telemetry/status-class";

/**
 * Per-minute traffic roll-ups (`traffic_minutes`), written by every web replica.
 *
 * Requests are counted in memory per (minute, tenant, service) and flushed every few seconds
 * with one multi-row upsert that ADDS to what is stored, so any number of replicas can write the
 * same minute. The in-memory aggregates are taken out before the upsert and merged back if it
 * fails, so a database blip delays counts instead of losing them; memory stays bounded by
 * dropping the oldest minutes past `maxMinutes` (logged). A crash loses at most one flush
 * interval of counts; a flush whose COMMIT succeeded but whose reply was lost is counted twice
 * (see docs/decisions/014).
 *
 * State lives on globalThis (see process-global.ts): the gateway's copy of this module and
 * Next's copy count into the same aggregates and share one timer.
 */

export const DEFAULT_FLUSH_INTERVAL_MS = 5_000;
/** Minutes kept in memory while the database is unreachable before the oldest are dropped. */
export const DEFAULT_MAX_MINUTES = 60;

interface MinuteAggregate {
  tenant: string;
  service: string;
  /** epoch ms of the minute's start */
  minute: number;
  /** counts by status class: 2xx, 3xx, 4xx, 5xx */
  classes: number[];
  rateLimited: number;
  latencySumMs: number;
  /** counts per latency bucket (bounds in lib/health/latency-buckets.ts) */
  buckets: number[];
}

/**
 * minute → tenant → service. Nested maps rather than one map keyed by a joined string: the hot
 * path then allocates nothing except when a new minute/tenant/service first appears.
 */
type Aggregates = Map<number, Map<string, Map<string, MinuteAggregate>>>;

interface TrafficState {
  pending: Aggregates;
  db: pg.Pool | null;
  timer: ReturnType<typeof setInterval> | null;
  inFlight: Promise<FlushResult> | null;
  maxMinutes: number;
  /** the last flush failed: log the outage once, and its end */
  failing: boolean;
  /** the first count tried to start the recorder on the process pool (once) */
  autoStartTried: boolean;
}

export interface FlushResult {
  ok: boolean;
  /** (tenant, service, minute) rows written */
  rows: number;
  /** rows kept in memory for the next flush after a failure */
  kept: number;
}

function createState(): TrafficState {
  return {
    pending: new Map(),
    db: null,
    timer: null,
    inFlight: null,
    maxMinutes: DEFAULT_MAX_MINUTES,
    failing: false,
    autoStartTried: false,
  };
}

function state(): TrafficState {
  return processState("traffic", createState);
}

/**
 * Starts flushing to `db` every `flushIntervalMs`. Idempotent: while running, later calls change
 * nothing (the first caller's pool and interval stay). The timer is unref'd, so it never keeps
 * a process alive; call `stopTrafficRecorder()` on shutdown to write the last counts.
 */
export function startTrafficRecorder(db: pg.Pool, opts: { flushIntervalMs?: number; maxMinutes?: number } = {}): void {
  const s = state();
  if (s.db) return;
  s.db = db;
  s.maxMinutes = Math.max(2, opts.maxMinutes ?? DEFAULT_MAX_MINUTES);
  const every = Math.max(100, opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
  s.timer = setInterval(() => {
    // A slow flush (database hanging until its timeout) is not stacked on: the next tick skips.
    if (s.inFlight) return;
    void runFlush(s);
  }, every);
  s.timer.unref();
}

/** Flushes what is pending (after any flush in progress). For tests and shutdown. */
export async function flushTraffic(): Promise<FlushResult> {
  const s = state();
  if (s.inFlight) await s.inFlight;
  return runFlush(s);
}

/**
 * Stops the timer and writes what is pending (counts that cannot be written stay in memory).
 * A later count starts the recorder again on the process pool.
 */
export async function stopTrafficRecorder(): Promise<FlushResult> {
  const s = state();
  if (s.timer) clearInterval(s.timer);
  s.timer = null;
  const result = s.db ? await flushTraffic() : { ok: true, rows: 0, kept: 0 };
  s.db = null;
  s.autoStartTried = false;
  return result;
}

/** Aggregates waiting for the next flush (tests, diagnostics). */
export function pendingTrafficRows(): number {
  let n = 0;
  for (const tenants of state().pending.values()) for (const services of tenants.values()) n += services.size;
  return n;
}

// --- the hot path -------------------------------------------------------------------------------

/**
 * Counts one answered request (any status) of `service` ("intake" for claim uploads).
 * Synchronous and allocation-free in the steady state.
 */
export function countRequest(tenant: string, service: string, status: number, latencyMs: number, at = Date.now()) {
  const agg = aggregateFor(tenant, service, at);
  if (!agg) return;
  agg.classes[statusClassIndex(status)]! += 1;
  const ms = latencyMs > 0 && Number.isFinite(latencyMs) ? latencyMs : 0;
  agg.latencySumMs += ms;
  agg.buckets[bucketIndex(ms)]! += 1;
}

/**
 * Counts one request refused by the rate limiter: rate-limited AND a 4xx (its 429), without a
 * latency — the limiter answers before any work, and a refusal is not a sample of service speed.
 */
export function countRateLimited(tenant: string, service: string, at = Date.now()) {
  const agg = aggregateFor(tenant, service, at);
  if (!agg) return;
  agg.rateLimited += 1;
  agg.classes[statusClassIndex(429)]! += 1;
}

function aggregateFor(tenant: string, service: string, at: number): MinuteAggregate | null {
  const s = state();
  if (!s.db) {
    if (!s.autoStartTried) autoStart(s);
    // No database (unit tests, a script): nothing would ever flush, so nothing is kept.
    if (!s.db) return null;
  }
  const minute = at - (at % 60_000);
  let tenants = s.pending.get(minute);
  if (!tenants) s.pending.set(minute, (tenants = new Map()));
  let services = tenants.get(tenant);
  if (!services) tenants.set(tenant, (services = new Map()));
  let agg = services.get(service);
  if (!agg) {
    agg = {
      tenant,
      service,
      minute,
      classes: [0, 0, 0, 0],
      rateLimited: 0,
      latencySumMs: 0,
      buckets: new Array<number>(BUCKET_COUNT).fill(0),
    };
    services.set(service, agg);
  }
  return agg;
}

function autoStart(s: TrafficState): void {
  s.autoStartTried = true;
  if (!process.env.DATABASE_URL) return;
  try {
    startTrafficRecorder(systemPool());
  } catch (err) {
    logger.warn({ err }, "traffic recorder could not start; traffic roll-ups are off in this process");
  }
}

// --- flushing -----------------------------------------------------------------------------------

/**
 * One statement whatever the number of rows: the rows travel as parallel arrays. Rows are sorted
 * by key, so two replicas upserting overlapping rows lock them in the same order (no deadlock).
 * Histogram arrays are added element-wise; a row without one (NULL) counts as zeros.
 */
export const TRAFFIC_UPSERT_SQL = `
INSERT INTO traffic_minutes AS t
       (tenant_id, service, minute, c2xx, c3xx, c4xx, c5xx, rate_limited, latency_sum_ms, latency_buckets)
SELECT r.tenant_id, r.service, to_timestamp(r.minute_s), r.c2xx, r.c3xx, r.c4xx, r.c5xx, r.rate_limited,
       r.latency_sum_ms, r.buckets::int[]
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[],
              $9::bigint[], $10::text[])
       AS r(tenant_id, service, minute_s, c2xx, c3xx, c4xx, c5xx, rate_limited, latency_sum_ms, buckets)
ON CONFLICT (tenant_id, service, minute) DO UPDATE SET
  c2xx = t.c2xx + EXCLUDED.c2xx,
  c3xx = t.c3xx + EXCLUDED.c3xx,
  c4xx = t.c4xx + EXCLUDED.c4xx,
  c5xx = t.c5xx + EXCLUDED.c5xx,
  rate_limited = t.rate_limited + EXCLUDED.rate_limited,
  latency_sum_ms = t.latency_sum_ms + EXCLUDED.latency_sum_ms,
  latency_buckets = ARRAY(
    SELECT coalesce(x.a, 0) + coalesce(x.b, 0)
      FROM unnest(t.latency_buckets, EXCLUDED.latency_buckets) WITH ORDINALITY AS x(a, b, n)
     ORDER BY x.n)`;

function runFlush(s: TrafficState): Promise<FlushResult> {
  const p = flushOnce(s).finally(() => {
    if (s.inFlight === p) s.inFlight = null;
  });
  s.inFlight = p;
  return p;
}

async function flushOnce(s: TrafficState): Promise<FlushResult> {
  const db = s.db;
  if (!db || s.pending.size === 0) return { ok: true, rows: 0, kept: 0 };
  // Take the aggregates out first: requests counted while the upsert runs go into a fresh map.
  const taken = s.pending;
  s.pending = new Map();
  const rows = flatten(taken);
  try {
    await db.query(TRAFFIC_UPSERT_SQL, columnsOf(rows));
    if (s.failing) logger.info({ rows: rows.length }, "traffic roll-ups written again");
    s.failing = false;
    return { ok: true, rows: rows.length, kept: 0 };
  } catch (err) {
    for (const r of rows) mergeBack(s.pending, r);
    dropOldestMinutes(s);
    if (!s.failing) logger.warn({ err, rows: rows.length }, "traffic flush failed; counts kept for the next flush");
    s.failing = true;
    return { ok: false, rows: 0, kept: rows.length };
  }
}

function flatten(aggs: Aggregates): MinuteAggregate[] {
  const rows: MinuteAggregate[] = [];
  for (const tenants of aggs.values()) for (const services of tenants.values()) rows.push(...services.values());
  return rows.sort(
    (a, b) =>
      (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0) ||
      (a.service < b.service ? -1 : a.service > b.service ? 1 : 0) ||
      a.minute - b.minute,
  );
}

function columnsOf(rows: MinuteAggregate[]): unknown[] {
  const cols: unknown[][] = Array.from({ length: 10 }, () => []);
  for (const r of rows) {
    cols[0]!.push(r.tenant);
    cols[1]!.push(r.service);
    cols[2]!.push(r.minute / 1000);
    cols[3]!.push(r.classes[0]);
    cols[4]!.push(r.classes[1]);
    cols[5]!.push(r.classes[2]);
    cols[6]!.push(r.classes[3]);
    cols[7]!.push(r.rateLimited);
    cols[8]!.push(Math.round(r.latencySumMs));
    cols[9]!.push(`{${r.buckets.join(",")}}`);
  }
  return cols;
}

/** Puts an aggregate that failed to flush back, adding it to whatever was counted meanwhile. */
function mergeBack(into: Aggregates, r: MinuteAggregate): void {
  let tenants = into.get(r.minute);
  if (!tenants) into.set(r.minute, (tenants = new Map()));
  let services = tenants.get(r.tenant);
  if (!services) tenants.set(r.tenant, (services = new Map()));
  const cur = services.get(r.service);
  if (!cur) {
    services.set(r.service, r);
    return;
  }
  for (let i = 0; i < cur.classes.length; i++) cur.classes[i]! += r.classes[i]!;
  for (let i = 0; i < cur.buckets.length; i++) cur.buckets[i]! += r.buckets[i]!;
  cur.rateLimited += r.rateLimited;
  cur.latencySumMs += r.latencySumMs;
}

/** Bounded memory while the database is away: the oldest minutes beyond `maxMinutes` go. */
function dropOldestMinutes(s: TrafficState): void {
  const excess = s.pending.size - s.maxMinutes;
  if (excess <= 0) return;
  const oldest = [...s.pending.keys()].sort((a, b) => a - b).slice(0, excess);
  let requests = 0;
  for (const minute of oldest) {
    for (const services of s.pending.get(minute)!.values()) {
      for (const a of services.values()) requests += a.classes.reduce((x, y) => x + y, 0);
    }
    s.pending.delete(minute);
  }
  logger.warn(
    { minutes: oldest.length, requests, from: new Date(oldest[0]!).toISOString() },
    "traffic roll-ups dropped: the database has been unreachable too long to keep them",
  );
}
