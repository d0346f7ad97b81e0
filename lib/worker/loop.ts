import { hostname } from "node:os";
import type pg from "pg";
import { logger } from "../telemetry/logger";

/**
 * A named background loop: `{ name, everyMs, handler }`. Safe to run on any number of workers:
 * handlers coordinate through PostgreSQL (SKIP LOCKED, advisory locks). After each run the loop
 * records "last completed at" so a stuck worker becomes visible.
 */
export interface LoopSpec {
  name: string;
  everyMs: number;
  handler: (signal: AbortSignal) => Promise<void>;
}

export function runLoops(db: pg.Pool, workerId: string, loops: LoopSpec[], signal: AbortSignal): Promise<void[]> {
  const host = hostname();
  return Promise.all(
    loops.map(async (loop) => {
      while (!signal.aborted) {
        const started = Date.now();
        try {
          await loop.handler(signal);
          await db.query(
            `INSERT INTO worker_heartbeats (worker_id, loop, hostname, last_completed_at) VALUES ($1, $2, $3, now())
             ON CONFLICT (worker_id, loop) DO UPDATE SET last_completed_at = now(), hostname = EXCLUDED.hostname`,
            [workerId, loop.name, host],
          );
        } catch (err) {
          logger.warn({ err, loop: loop.name }, "worker loop failed; will retry");
          await db
            .query(
              `INSERT INTO worker_heartbeats (worker_id, loop, hostname, last_completed_at, last_error, last_error_at)
               VALUES ($1, $2, $3, to_timestamp(0), $4, now())
               ON CONFLICT (worker_id, loop) DO UPDATE SET last_error = EXCLUDED.last_error, last_error_at = now()`,
              [workerId, loop.name, host, String((err as Error).message ?? err).slice(0, 500)],
            )
            .catch(() => {});
        }
        const wait = Math.max(0, loop.everyMs - (Date.now() - started));
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
        });
      }
    }),
  );
}
