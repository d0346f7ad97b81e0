import pino from "pino";

/** Structured JSON logs for every process (web, worker, scripts). */
export const logger = pino({
  level: process.env.HMS_LOG_LEVEL ?? (process.env.NODE_ENV === "test" ? "silent" : "info"),
  base: { service: "hms-sys", pid: process.pid },
  redact: ["req.headers.authorization", "req.headers.cookie", "password", "*.password"],
});
