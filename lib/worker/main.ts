import { hostname } from "node:os";
import { loadEnv } from "../config/env";
import { pool } from "../db/pool";
import { purgeExpiredIdempotencyKeys } from "../idempotency/idempotency-key";
import { logger } from "../telemetry/logger";
import { runLoops, type LoopSpec } from "./loop";

/** The worker process: background loops only; any number may run against one database. */
// Stable across restarts so heartbeat rows do not pile up; set HMS_WORKER_ID for several workers on one host.
const env = loadEnv();
const workerId = env.HMS_WORKER_ID ?? hostname();
const db = pool();

const loops: LoopSpec[] = [
  {
    name: "retention",
    everyMs: 60_000,
    handler: async () => {
      const n = await purgeExpiredIdempotencyKeys(db);
      if (n) logger.info({ purged: n }, "expired idempotency keys purged");
      await db.query(`DELETE FROM worker_heartbeats WHERE last_completed_at < now() - interval '7 days'`);
    },
  },
];

const ac = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    logger.info({ workerId }, "worker stopping");
    ac.abort();
  });
}
logger.info({ workerId, loops: loops.map((l) => l.name) }, "worker started");
await runLoops(db, workerId, loops, ac.signal);
await db.end();
