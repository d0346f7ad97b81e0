import pino from "pino";
import pretty from "pino-pretty";

/**
 * Logs for every process (web, data plane, worker, scripts).
 *
 * In a terminal (`npm start` by hand) they are one readable line each — time, level, message,
 * the fields that matter — and quiet: start-up, warnings, state changes; nothing per request
 * (the gateway's access log goes to a file then, see gateway/access-log.ts). Anywhere else
 * (containers, systemd, CI) they are JSON lines on stdout, for the log collector.
 * `HMS_LOG_FORMAT=json|pretty` overrides the choice.
 */
export const logger = pino(
  {
    level: process.env.HMS_LOG_LEVEL ?? (process.env.NODE_ENV === "test" ? "silent" : "info"),
    base: { service: "hms-sys", pid: process.pid },
    redact: ["req.headers.authorization", "req.headers.cookie", "password", "*.password"],
  },
  humanReadable() ? readableStream() : undefined,
);

/** Whether this process writes readable lines rather than JSON. */
export function humanReadable(): boolean {
  const format = process.env.HMS_LOG_FORMAT;
  if (format === "json") return false;
  if (format === "pretty") return true;
  return process.stdout.isTTY === true && process.env.NODE_ENV !== "test";
}

function readableStream() {
  return pretty({
    colorize: process.stdout.isTTY === true,
    translateTime: "HH:MM:ss",
    ignore: "pid,hostname,service",
    singleLine: true,
    sync: true,
  });
}
