import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { pool } from "../db/pool";
import { purgeExpiredIdempotencyKeys } from "../idempotency/idempotency-key";
import { logger } from "../telemetry/logger";
import { runLoops, type LoopSpec } from "./loop";

/** The worker process: background loops only; any number may run against one database. */
const workerId = process.env.HMS_WORKER_ID ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
const db = pool();

const loops: LoopSpec[] = [
  {
    name: "idempotency-retention",
    everyMs: 60_000,
    handler: async () => {
      const n = await purgeExpiredIdempotencyKeys(db);
      if (n) logger.info({ purged: n }, "expired idempotency keys purged");
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
