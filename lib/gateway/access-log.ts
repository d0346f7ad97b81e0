import path from "node:path";
import pino from "pino";
import { humanReadable } from "../telemetry/logger";

const g = globalThis as unknown as { hmsAccessLog?: pino.Logger };

/**
 * The gateway's access log: one JSON line per call (trace id, tenant, service, caller, instance,
 * outcome, latency), for the operators' log collector. Written asynchronously in 4 KiB batches —
 * a synchronous write per request would cost the data plane more than its whole routing decision.
 *
 * Where: `HMS_ACCESS_LOG_FILE` when set; otherwise stdout, unless this process writes readable
 * lines to a terminal (`npm start` by hand), where a line per request would drown everything
 * else: then `<HMS_DATA_DIR or .data>/logs/gateway-access.log`. `HMS_ACCESS_LOG=0` turns it off.
 * State changes (breaker transitions) go to the process log, not here.
 */
export function accessLog(): pino.Logger {
  if (!g.hmsAccessLog) {
    const off = process.env.HMS_ACCESS_LOG === "0" || process.env.NODE_ENV === "test";
    g.hmsAccessLog = pino(
      {
        level: off ? "silent" : (process.env.HMS_LOG_LEVEL ?? "info"),
        base: { service: "hms-gateway", pid: process.pid },
      },
      off ? undefined : pino.destination({ dest: accessLogTarget(), sync: false, minLength: 4096, mkdir: true }),
    );
  }
  return g.hmsAccessLog;
}

/** A file path, or 1 (stdout). */
export function accessLogTarget(): string | number {
  const file = process.env.HMS_ACCESS_LOG_FILE;
  if (file) return file;
  if (humanReadable()) return path.resolve(process.env.HMS_DATA_DIR ?? ".data", "logs", "gateway-access.log");
  return 1;
}
