import pino from "pino";

const g = globalThis as unknown as { hmsAccessLog?: pino.Logger };

/**
 * The gateway's access log: one JSON line per call (trace id, tenant, service, instance,
 * outcome, latency). Written asynchronously in 4 KiB batches — a synchronous write per request
 * would cost the data plane more than its whole routing decision. HMS_ACCESS_LOG=0 turns it off;
 * HMS_LOG_LEVEL=warn keeps only breaker transitions and errors.
 */
export function accessLog(): pino.Logger {
  if (!g.hmsAccessLog) {
    const off = process.env.HMS_ACCESS_LOG === "0" || process.env.NODE_ENV === "test";
    g.hmsAccessLog = pino(
      {
        level: off ? "silent" : (process.env.HMS_LOG_LEVEL ?? "info"),
        base: { service: "hms-gateway", pid: process.pid },
      },
      off ? undefined : pino.destination({ dest: 1, sync: false, minLength: 4096 }),
    );
  }
  return g.hmsAccessLog;
}
