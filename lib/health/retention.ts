import type pg from "pg";
import { z } from "zod";

/**
 * Trims health history (CONVENTIONS.md §10): raw `health_checks` older than
 * `HMS_HEALTH_RAW_RETENTION_HOURS` (default 24), per-minute `health_rollups` older than 30 days,
 * `service_status_events` older than a year.
 * Deletes in batches (each its own short statement, using the `at` / primary-key indexes) so a
 * large backlog never holds long locks or one huge transaction. Safe on several workers at once:
 * two workers deleting the same old rows at worst both find fewer rows.
 */
export const ROLLUP_RETENTION_DAYS = 30;
/** Status changes feed a service's history and "since when"; a year of them is plenty. */
export const STATUS_EVENT_RETENTION_DAYS = 365;
const DEFAULT_BATCH = 5_000;

const retentionHours = z.coerce
  .number()
  .int()
  .min(1)
  .max(24 * 365)
  .default(24);

/** `HMS_HEALTH_RAW_RETENTION_HOURS` (1 h … 1 year; default 24). A bad value is refused loudly. */
export function rawRetentionHours(source: Record<string, string | undefined> = process.env): number {
  const raw = source.HMS_HEALTH_RAW_RETENTION_HOURS;
  const r = retentionHours.safeParse(raw === "" ? undefined : raw);
  if (!r.success) {
    throw new Error(`Invalid HMS_HEALTH_RAW_RETENTION_HOURS: ${r.error.issues.map((i) => i.message).join("; ")}`);
  }
  return r.data;
}

/**
 * health_rollups has no index on `minute` alone (its indexes are (instance_id, minute) and
 * (service_id, minute)), and at 30 days it is the big table. So: walk the distinct service ids
 * with a loose index scan (one index probe per service, orphans of deleted services included),
 * and take each one's expired minutes by index range — never a sequential scan.
 */
export const ROLLUP_DELETE_SQL = `
WITH RECURSIVE sids AS (
  (SELECT service_id FROM health_rollups ORDER BY service_id LIMIT 1)
  UNION ALL
  SELECT (SELECT r.service_id FROM health_rollups r WHERE r.service_id > sids.service_id ORDER BY r.service_id LIMIT 1)
    FROM sids WHERE sids.service_id IS NOT NULL
), victims AS (
  SELECT v.instance_id, v.minute
    FROM sids CROSS JOIN LATERAL (
      SELECT r.instance_id, r.minute FROM health_rollups r
       WHERE r.service_id = sids.service_id AND r.minute < now() - make_interval(days => $1)
       LIMIT $2) v
   LIMIT $2
)
DELETE FROM health_rollups r USING victims v WHERE r.instance_id = v.instance_id AND r.minute = v.minute`;

export interface RetentionResult {
  checksDeleted: number;
  rollupsDeleted: number;
  statusEventsDeleted: number;
}

export async function trimHealthHistory(
  db: pg.Pool,
  opts: {
    rawHours?: number;
    rollupDays?: number;
    statusEventDays?: number;
    batch?: number;
    maxBatches?: number;
    signal?: AbortSignal;
  } = {},
): Promise<RetentionResult> {
  const rawHours = opts.rawHours ?? rawRetentionHours();
  const rollupDays = opts.rollupDays ?? ROLLUP_RETENTION_DAYS;
  const batch = Math.max(1, opts.batch ?? DEFAULT_BATCH);
  const maxBatches = opts.maxBatches ?? 1_000;
  const out: RetentionResult = { checksDeleted: 0, rollupsDeleted: 0, statusEventsDeleted: 0 };

  for (let i = 0; i < maxBatches && !opts.signal?.aborted; i++) {
    const r = await db.query(
      `DELETE FROM health_checks WHERE id IN (
         SELECT id FROM health_checks WHERE at < now() - make_interval(hours => $1) ORDER BY at LIMIT $2)`,
      [rawHours, batch],
    );
    out.checksDeleted += r.rowCount ?? 0;
    if ((r.rowCount ?? 0) < batch) break;
  }
  for (let i = 0; i < maxBatches && !opts.signal?.aborted; i++) {
    const r = await db.query(ROLLUP_DELETE_SQL, [rollupDays, batch]);
    out.rollupsDeleted += r.rowCount ?? 0;
    if ((r.rowCount ?? 0) < batch) break;
  }
  // Ids grow with time: the oldest events are the lowest ids (primary-key walk, no `at` index needed).
  for (let i = 0; i < maxBatches && !opts.signal?.aborted; i++) {
    const r = await db.query(
      `DELETE FROM service_status_events WHERE id IN (
         SELECT id FROM service_status_events WHERE at < now() - make_interval(days => $1) ORDER BY id LIMIT $2)`,
      [opts.statusEventDays ?? STATUS_EVENT_RETENTION_DAYS, batch],
    );
    out.statusEventsDeleted += r.rowCount ?? 0;
    if ((r.rowCount ?? 0) < batch) break;
  }
  return out;
}
