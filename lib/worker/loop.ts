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
        await pause(Math.max(0, loop.everyMs - (Date.now() - started)), signal);
      }
    }),
  );
}

/**
 * Waits `ms`, or less when `signal` aborts. The listener goes when the wait ends either way: the
 * signal lives as long as the worker, and a listener left per pause (a `{ once: true }` listener
 * only goes when it fires) piled up one per loop run — memory that grew for ever and Node's
 * MaxListenersExceededWarning after a hundred probe ticks.
 */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
