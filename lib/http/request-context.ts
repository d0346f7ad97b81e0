import { randomBytes } from "node:crypto";
import { setting } from "../config/env";

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
 * The caller's address for the audit trail. Behind HMS_TRUSTED_PROXY_HOPS proxies that each append
 * to X-Forwarded-For, the client is the entry that many places from the right. With no proxy
 * (0), `next start` fills the header from the socket only when the client sent none, so the value
 * can be forged: expose the web tier through a proxy (docs/operations.md).
 */
export function clientIp(req: Request): string | null {
  const hops = setting("HMS_TRUSTED_PROXY_HOPS");
  const chain = (req.headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return chain[chain.length - Math.max(1, hops)] ?? null;
}
