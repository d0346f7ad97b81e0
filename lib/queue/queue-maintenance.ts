import type pg from "pg";
import { systemPool } from "../db/pool";
import { logger } from "../telemetry/logger";
import type { LoopSpec } from "../worker/loop";

/**
 * Queue housekeeping for the worker (system scope, every tenant; safe on several workers at once:
 * SKIP LOCKED and idempotent deletes):
 * - leases that ran out on messages already delivered max_attempts times go dead even when nobody
 *   leases that queue any more (a lease would do it too, see queue-store.ts);
 * - done messages older than the retention (7 days) are deleted, in batches.
 * Dead letters stay until an operator requeues or discards them.
 */
export const DONE_RETENTION_DAYS = 7;
const BATCH = 5_000;

export interface MaintenanceResult {
  expiredToDead: number;
  doneDeleted: number;
}

export async function expireExhaustedLeases(db: pg.Pool, signal?: AbortSignal): Promise<number> {
  let total = 0;
  while (!signal?.aborted) {
    const { rowCount } = await db.query(
      `WITH x AS (
         SELECT id FROM queue_messages
          WHERE state = 'leased' AND visible_at <= now() AND attempts >= max_attempts
          LIMIT ${BATCH}
          FOR UPDATE SKIP LOCKED
       )
       UPDATE queue_messages m SET state = 'dead', visible_at = now(), finished_at = now(),
              last_error = 'lease expired ' || m.attempts || ' times'
         FROM x WHERE m.id = x.id`,
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < BATCH) break;
  }
  return total;
}

export async function deleteOldDone(
  db: pg.Pool,
  opts: { retentionDays?: number; signal?: AbortSignal | undefined } = {},
): Promise<number> {
  const days = opts.retentionDays ?? DONE_RETENTION_DAYS;
  let total = 0;
  while (!opts.signal?.aborted) {
    const { rowCount } = await db.query(
      `DELETE FROM queue_messages WHERE id IN (
         SELECT id FROM queue_messages
          WHERE state = 'done' AND finished_at < now() - make_interval(days => $1::int)
          LIMIT ${BATCH}
       )`,
      [days],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < BATCH) break;
  }
  return total;
}

export async function runQueueMaintenance(
  db: pg.Pool = systemPool(),
  opts: { retentionDays?: number; signal?: AbortSignal | undefined } = {},
): Promise<MaintenanceResult> {
  const expiredToDead = await expireExhaustedLeases(db, opts.signal);
  const doneDeleted = await deleteOldDone(db, opts);
  return { expiredToDead, doneDeleted };
}

/** The worker loop: `loops.push(queueMaintenanceLoop())` in lib/worker/main.ts. */
export function queueMaintenanceLoop(opts: { retentionDays?: number; db?: pg.Pool } = {}): LoopSpec {
  return {
    name: "queue-maintenance",
    everyMs: 60_000,
    handler: async (signal) => {
      const r = await runQueueMaintenance(opts.db ?? systemPool(), { retentionDays: opts.retentionDays, signal });
      if (r.expiredToDead || r.doneDeleted) logger.info({ ...r }, "queue maintenance");
    },
  };
}
