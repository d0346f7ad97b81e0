/**
 * What one health probe means, independent of how it was made: an HTTP response (or the error
 * that replaced it) becomes `pass`, `warn` or `fail` with a short human reason. Pure.
 *
 * Rules (ARCHITECTURE.md §3):
 * - 3xx → fail "redirect not followed (HTTP 302 to …)": the prober never follows redirects.
 * - An IETF `application/health+json` body (draft-inadarei-api-health-check) decides by its
 *   `status`: `pass`/`ok`/`up` → pass, `warn` → warn, `fail`/`error`/`down` → fail, even on a 200.
 *   Its `output` (or `notes`) is appended to the reason. An unrecognised or missing status, or
 *   a body that is not JSON, is a warn (the endpoint answers but its report is broken).
 * - Any other non-2xx → fail "HTTP 503" (a health+json "pass" or "warn" with a 5xx is still a fail).
 * - A pass slower than the latency budget → warn "slow: 1234 ms > 1000 ms budget".
 * - Errors (timeout, refused, reset, DNS, network policy) → fail with a plain reason.
 */
export type ProbeOutcome = "pass" | "warn" | "fail";

export interface ProbeVerdict {
  outcome: ProbeOutcome;
  /** null for a plain pass */
  reason: string | null;
  httpStatus: number | null;
  latencyMs: number | null;
}

export interface ProbeResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  latencyMs: number;
}

const PASS = new Set(["pass", "ok", "up"]);
const WARN = new Set(["warn", "warning", "degraded"]);
const FAIL = new Set(["fail", "error", "down"]);

const MAX_DETAIL = 160;

function clip(s: string, max = MAX_DETAIL): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function header(headers: Record<string, string>, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v;
  return undefined;
}

function isHealthJson(contentType: string | undefined): boolean {
  return !!contentType && contentType.split(";")[0]!.trim().toLowerCase() === "application/health+json";
}

interface HealthJson {
  status: string | null;
  detail: string | null;
}

function parseHealthJson(body: string): HealthJson | null {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const status = typeof o.status === "string" ? o.status.trim().toLowerCase() : null;
  let detail: string | null = null;
  if (typeof o.output === "string" && o.output.trim()) detail = o.output;
  else if (Array.isArray(o.notes)) {
    const notes = o.notes.filter((n): n is string => typeof n === "string" && n.trim() !== "");
    if (notes.length) detail = notes.join("; ");
  }
  return { status, detail: detail === null ? null : clip(detail) };
}

function withDetail(base: string, detail: string | null): string {
  return detail ? `${base}: ${detail}` : base;
}

export function slowReason(latencyMs: number, budgetMs: number): string {
  return `slow: ${Math.round(latencyMs)} ms > ${budgetMs} ms budget`;
}

/** Interprets an HTTP response against the service's latency budget. */
export function interpretResponse(res: ProbeResponse, opts: { latencyBudgetMs: number }): ProbeVerdict {
  const httpStatus = res.status;
  const latencyMs = Math.max(0, Math.round(res.latencyMs));
  const base = { httpStatus, latencyMs };

  if (httpStatus >= 300 && httpStatus < 400) {
    const location = header(res.headers, "location");
    const to = location ? ` to ${clip(location, 100)}` : "";
    return { ...base, outcome: "fail", reason: `redirect not followed (HTTP ${httpStatus}${to})` };
  }

  const ok = httpStatus >= 200 && httpStatus < 300;
  let outcome: ProbeOutcome = "pass";
  let reason: string | null = null;

  if (isHealthJson(header(res.headers, "content-type"))) {
    const h = parseHealthJson(res.body);
    if (!h) {
      if (!ok) return { ...base, outcome: "fail", reason: `HTTP ${httpStatus}` };
      outcome = "warn";
      reason = "health+json body is not a JSON object";
    } else if (h.status !== null && FAIL.has(h.status)) {
      const http = ok ? "" : ` (HTTP ${httpStatus})`;
      return { ...base, outcome: "fail", reason: withDetail(`reports "${h.status}"${http}`, h.detail) };
    } else if (!ok) {
      return { ...base, outcome: "fail", reason: withDetail(`HTTP ${httpStatus}`, h.detail) };
    } else if (h.status !== null && WARN.has(h.status)) {
      outcome = "warn";
      reason = withDetail(`reports "${h.status}"`, h.detail);
    } else if (h.status === null || !PASS.has(h.status)) {
      outcome = "warn";
      reason =
        h.status === null ? "health+json body has no status" : `unrecognised health status "${clip(h.status, 40)}"`;
    }
  } else if (!ok) {
    return { ...base, outcome: "fail", reason: `HTTP ${httpStatus}` };
  }

  if (latencyMs > opts.latencyBudgetMs) {
    const slow = slowReason(latencyMs, opts.latencyBudgetMs);
    return { ...base, outcome: "warn", reason: reason ? `${reason}; ${slow}` : slow };
  }
  return { ...base, outcome, reason };
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
  cause?: unknown;
  name?: unknown;
}

function errorCode(err: unknown, depth = 0): string | null {
  if (!err || typeof err !== "object" || depth > 4) return null;
  const e = err as ErrorLike;
  if (typeof e.code === "string") return e.code;
  return errorCode(e.cause, depth + 1);
}

const plainCodes: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection reset",
  UND_ERR_SOCKET: "connection closed",
  ENOTFOUND: "DNS lookup failed",
  EAI_AGAIN: "DNS lookup failed (temporary)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNABORTED: "connection aborted",
  dns_resolution_failed: "DNS lookup failed",
  payload_too_large: "health response too large",
};

/** Interprets the error that replaced a response (the probe never got an answer). */
export function interpretError(
  err: unknown,
  opts: { timeoutMs?: number; latencyMs?: number | null } = {},
): ProbeVerdict {
  const code = errorCode(err);
  const e = (err && typeof err === "object" ? err : {}) as ErrorLike;
  const message = typeof e.message === "string" ? e.message : String(err);
  let reason: string;
  if (code === "ETIMEDOUT" || code === "UND_ERR_HEADERS_TIMEOUT" || e.name === "TimeoutError") {
    reason = opts.timeoutMs ? `timeout after ${opts.timeoutMs} ms` : "timeout";
  } else if (code && /^(ssrf_|url_)/.test(code)) {
    const detail = typeof e.detail === "string" ? e.detail : message;
    reason = `refused by network policy (${code}): ${clip(detail, 120)}`;
  } else if (code && plainCodes[code]) {
    reason = plainCodes[code]!;
  } else {
    reason = clip(message || "probe failed", 120);
  }
  return { outcome: "fail", reason, httpStatus: null, latencyMs: opts.latencyMs ?? null };
}
