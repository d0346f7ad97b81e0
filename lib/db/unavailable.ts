/**
 * Recognises "the database is not there right now" among the errors `pg` (directly or through
 * Prisma's adapter) can throw, so callers answer 503 + Retry-After instead of a 500.
 */
const networkCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);
// SQLSTATE classes: 08 connection exception, 57P01-03 admin shutdown / crash / cannot connect now,
// 53300 too many connections.
const sqlStates = /^(08...|57P0[123]|53300)$/;
// Prisma's own codes: P1001 can't reach, P1002 timed out, P1008 operation timed out, P1017 server
// closed the connection, P2024 timed out waiting for a pooled connection.
const prismaCodes = /^(P1001|P1002|P1008|P1017|P2024)$/;

export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; originalCode?: unknown };
  if (typeof e.code === "string" && (networkCodes.has(e.code) || sqlStates.test(e.code) || prismaCodes.test(e.code))) {
    return true;
  }
  if (typeof e.originalCode === "string" && sqlStates.test(e.originalCode)) return true;
  const msg = typeof e.message === "string" ? e.message : "";
  if (
    /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|the database system is (shutting down|starting up)|terminating connection due to administrator command|Client has encountered a connection error/i.test(
      msg,
    )
  )
    return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}
