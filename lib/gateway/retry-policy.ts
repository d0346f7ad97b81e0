/**
 * May a gateway call that failed without an answer go to another instance? (ARCHITECTURE.md §7
 * Gateway.) Running a non-idempotent call twice is worse than failing it once, so:
 * - a failure where NOTHING was sent — the connection was refused, the name did not resolve, or
 *   the address policy refused the instance before connecting — may be retried for any method;
 * - a failure after the request may have reached the upstream (a reset, a hang-up, an error
 *   mid-exchange) is retried only for GET, HEAD, OPTIONS, PUT and DELETE (idempotent by RFC 9110
 *   §9.2.2) or a request carrying `Idempotency-Key` (the upstream deduplicates);
 * - a timeout is never retried (the upstream may still be working on it, and a retry would double
 *   the caller's wait), nor is anything once an answer has started;
 * - a request whose body was already (partly) streamed to the failed attempt cannot be sent again:
 *   the gateway does not buffer bodies.
 * The attempt budget (MAX_ATTEMPTS in gateway.ts) is the caller's.
 */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/** Error codes that mean the request never left the gateway. */
const NOTHING_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "dns_resolution_failed"]);
/** The SSRF policy's refusals (`ssrf_private`, …) and URL refusals, raised before connecting. */
const POLICY_REFUSAL = /^(ssrf_|url_)/;

export type FailureKind = "not_sent" | "maybe_received" | "timeout";

/** How a failed attempt ended, from its error code (`timeout` is the gateway's own). */
export function failureKind(code: string): FailureKind {
  if (code === "timeout") return "timeout";
  if (NOTHING_SENT.has(code) || POLICY_REFUSAL.test(code)) return "not_sent";
  return "maybe_received";
}

export interface RetryFacts {
  method: string | undefined;
  /** the request carries an Idempotency-Key header */
  idempotencyKey: boolean;
  failure: FailureKind;
  /** an answer (status line) had arrived from the failed attempt */
  answered: boolean;
  /** the request can be sent again as it was: no body, or a body not read yet */
  replayable: boolean;
}

export function mayRetry(f: RetryFacts): boolean {
  if (f.answered || !f.replayable) return false;
  if (f.failure === "not_sent") return true;
  if (f.failure === "timeout") return false;
  return f.idempotencyKey || IDEMPOTENT.has((f.method ?? "GET").toUpperCase());
}

/** Whether a raw header list (name, value, …) holds a non-empty Idempotency-Key. */
export function hasIdempotencyKey(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === "idempotency-key" && rawHeaders[i + 1]!.trim() !== "") return true;
  }
  return false;
}
