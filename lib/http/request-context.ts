import { randomBytes } from "node:crypto";

/** W3C trace context: continue the caller's trace when it sends a valid `traceparent`. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface RequestMeta {
  requestId: string;
  traceId: string;
  ip: string | null;
}

export function requestMeta(req: Request): RequestMeta {
  const tp = TRACEPARENT.exec(req.headers.get("traceparent") ?? "");
  const traceId = tp && !/^0+$/.test(tp[1]!) ? tp[1]! : randomBytes(16).toString("hex");
  const given = req.headers.get("x-request-id");
  const requestId = given && /^[\w.-]{1,128}$/.test(given) ? given : traceId;
  return { requestId, traceId, ip: clientIp(req) };
}

/**
 * The caller's address for the audit trail. `next start` appends the peer address to
 * X-Forwarded-For, so the rightmost entry is the one a client cannot forge; behind
 * HMS_TRUSTED_PROXY_HOPS trusted proxies, step that many entries further left.
 */
export function clientIp(req: Request): string | null {
  const hops = Number(process.env.HMS_TRUSTED_PROXY_HOPS ?? 0);
  const chain = (req.headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return chain[Math.max(0, chain.length - 1 - hops)] ?? null;
}
