import type pg from "pg";

/**
 * Trims gateway history (CONVENTIONS.md §10): `traffic_minutes` older than 8 days (the Traffic
 * page's longest range is 7 days) and `circuit_events` older than 30 days. Batched deletes, each
 * a short statement, so a backlog never holds long locks; idempotent, safe on several workers.
 */
export const TRAFFIC_RETENTION_DAYS = 8;
export const CIRCUIT_EVENT_RETENTION_DAYS = 30;
const DEFAULT_BATCH = 5_000;

/** Uses the `minute` index; the primary key finds the rows to delete. */
const TRAFFIC_DELETE_SQL = `
DELETE FROM traffic_minutes t USING (
  SELECT tenant_id, service, minute FROM traffic_minutes
   WHERE minute < now() - make_interval(days => $1) ORDER BY minute LIMIT $2
) v
WHERE t.tenant_id = v.tenant_id AND t.service = v.service AND t.minute = v.minute`;

/**
 * circuit_events has no index on `at` alone, but ids grow with time: walking the primary key from
 * the oldest id finds the expired events first and stops at the batch size. Events are breaker
 * transitions (a few per instance per hour at worst), so the table stays small.
 */
const CIRCUIT_EVENTS_DELETE_SQL = `
DELETE FROM circuit_events WHERE id IN (
  SELECT id FROM circuit_events WHERE at < now() - make_interval(days => $1) ORDER BY id LIMIT $2
)`;

export interface TrafficRetentionResult {
  trafficDeleted: number;
  circuitEventsDeleted: number;
  replicasDeleted: number;
}

export async function trimGatewayHistory(
  db: pg.Pool,
  opts: {
    trafficDays?: number;
    circuitEventDays?: number;
    batch?: number;
    maxBatches?: number;
    signal?: AbortSignal;
  } = {},
): Promise<TrafficRetentionResult> {
  const batch = Math.max(1, opts.batch ?? DEFAULT_BATCH);
  const maxBatches = opts.maxBatches ?? 1_000;
  const out: TrafficRetentionResult = { trafficDeleted: 0, circuitEventsDeleted: 0, replicasDeleted: 0 };
  const jobs = [
    { sql: TRAFFIC_DELETE_SQL, days: opts.trafficDays ?? TRAFFIC_RETENTION_DAYS, key: "trafficDeleted" },
    {
      sql: CIRCUIT_EVENTS_DELETE_SQL,
      days: opts.circuitEventDays ?? CIRCUIT_EVENT_RETENTION_DAYS,
      key: "circuitEventsDeleted",
    },
  ] as const;
  for (const job of jobs) {
    for (let i = 0; i < maxBatches && !opts.signal?.aborted; i++) {
      const r = await db.query(job.sql, [job.days, batch]);
      out[job.key] += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < batch) break;
    }
  }
  // A replica killed without SIGTERM leaves its heartbeat row; an hour of silence means it is gone.
  const gone = await db.query(`DELETE FROM gateway_replicas WHERE last_seen_at < now() - interval '1 hour'`);
  out.replicasDeleted = gone.rowCount ?? 0;
  return out;
}
