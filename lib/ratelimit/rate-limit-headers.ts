import { AppError } from "../http/app-error";
import type { RateDecision } from "./shared-limiter";

/**
 * The IETF RateLimit header fields, in the structured-field form of
 * draft-ietf-httpapi-ratelimit-headers-11 (May 2026, §3 and §4):
 *
 *   RateLimit-Policy: "tenant";q=100;w=2   quota q (our burst) renewed over window w seconds
 *   RateLimit: "tenant";r=37;t=2           r requests left, t seconds until the quota is whole again
 *
 * plus `Retry-After` (RFC 9110) on a rejection, where t equals Retry-After because the draft says
 * Retry-After SHOULD NOT point earlier than the end of the effective window. Only one policy is
 * reported: the one that decided (when a per-caller, a per-service and the tenant-wide limit
 * apply, the tightest one): "tenant", "service" or "caller". An unlimited request gets no headers.
 */
export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  if (!d.limited) return {};
  const name = sfString(d.policyName);
  const h: Record<string, string> = {
    "RateLimit-Policy": `${name};q=${d.limit};w=${d.windowSeconds}`,
    RateLimit: `${name};r=${d.remaining};t=${d.resetSeconds}`,
  };
  if (!d.allowed) h["Retry-After"] = String(d.retryAfterSeconds);
  return h;
}

/** The 429 problem's detail and extra members for a rejected decision (no Error, no stack). */
export function rateLimitedProblem(d: RateDecision): { detail: string; extra: Record<string, unknown> } {
  const scope =
    d.policyName === "service"
      ? "to this service for your agency"
      : d.policyName === "caller"
        ? "from you (your share of your agency's limit)"
        : "to your agency";
  return {
    detail:
      `Too many requests ${scope}: at most ${d.limit} at once, refilled over ${d.windowSeconds} s. ` +
      `Retry in ${d.retryAfterSeconds} s.`,
    extra: {
      policy: d.policyName,
      limit: d.limit,
      windowSeconds: d.windowSeconds,
      retryAfterSeconds: d.retryAfterSeconds,
    },
  };
}

/** The 429 problem for a rejected decision: headers as above, and the wait in the body too. */
export function rateLimitedError(d: RateDecision): AppError {
  const { detail, extra } = rateLimitedProblem(d);
  return new AppError("rate_limited", detail, { headers: rateLimitHeaders(d), extra });
}

/** An RFC 9651 sf-string: quoted, with `\` and `"` escaped. */
function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
