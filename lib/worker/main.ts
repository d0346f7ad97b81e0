import { hostname } from "node:os";
import { loadEnv } from "../config/env";
import { systemPool } from "../db/pool";
import { PROBE_LOOP } from "../health/health-report";
import { probeUntilIdle, PROBE_TICK_MS } from "../health/prober";
import { rawRetentionHours, trimHealthHistory } from "../health/retention";
import { purgeExpiredIdempotencyKeys } from "../idempotency/idempotency-key";
import { networkPolicyFromEnv } from "../net/network-policy";
import { logger } from "../telemetry/logger";
import { keyRing } from "../audit/keys";
import { auditSealLoop } from "../audit/sealer";
import { queueMaintenanceLoop } from "../queue/queue-maintenance";
import { trimGatewayHistory } from "../traffic/traffic-retention";
import { runLoops, type LoopSpec } from "./loop";

/** The worker process: background loops only; any number may run against one database. */
// Stable across restarts so heartbeat rows do not pile up; set HMS_WORKER_ID for several workers on one host.
const env = loadEnv();
const workerId = env.HMS_WORKER_ID ?? hostname();
// The worker serves every tenant: the all-tenants scope of row-level security (decision 017).
const db = systemPool();
// Refused loudly at start-up, not on the first probe.
const policy = networkPolicyFromEnv();
const rawHours = rawRetentionHours();

// A missing or short HMS_AUDIT_KEY is refused at start-up, not on the first seal.
keyRing();

const loops: LoopSpec[] = [
  auditSealLoop(),
  queueMaintenanceLoop(),
  {
    name: "retention",
    everyMs: 60_000,
    handler: async () => {
      const n = await purgeExpiredIdempotencyKeys(db);
      if (n) logger.info({ purged: n }, "expired idempotency keys purged");
      await db.query(`DELETE FROM worker_heartbeats WHERE last_completed_at < now() - interval '7 days'`);
    },
  },
  {
    // Every PROBE_TICK_MS: probe everything due (SKIP LOCKED leases; several workers share the
    // work). The tick bounds how late a probe starts; its heartbeat is the board's "last probe loop".
    name: PROBE_LOOP,
    everyMs: PROBE_TICK_MS,
    handler: async (signal) => {
      const r = await probeUntilIdle({ pool: db, workerId, policy, signal });
      if (r.leased) logger.debug({ ...r }, "health probe rounds");
    },
  },
  {
    name: "health-retention",
    everyMs: 10 * 60_000,
    handler: async (signal) => {
      const r = await trimHealthHistory(db, { rawHours, signal });
      if (r.checksDeleted || r.rollupsDeleted || r.statusEventsDeleted) logger.info({ ...r }, "health history trimmed");
    },
  },
  {
    name: "traffic-retention",
    everyMs: 10 * 60_000,
    handler: async (signal) => {
      const r = await trimGatewayHistory(db, { signal });
      if (r.trafficDeleted || r.circuitEventsDeleted || r.replicasDeleted)
        logger.info({ ...r }, "traffic and breaker history trimmed");
    },
  },
];

// One signal for every loop. Each loop holds at most one listener on it (its pause between runs,
// removed when the pause ends), so Node's default limit of 10 holds; a warning means a leak.
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
