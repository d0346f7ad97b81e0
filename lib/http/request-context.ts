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
  const fwd = req.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return { requestId, traceId, ip: fwd || req.headers.get("x-real-ip") || null };
}
