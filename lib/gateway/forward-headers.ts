import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/**
 * What crosses the gateway in each direction (issue 4 item 1). Hop-by-hop headers (RFC 9110
 * §7.6.1, plus any the Connection header names) never cross; the caller's credentials
 * (Authorization, Cookie, Proxy-Authorization) never reach the upstream — a service that wants
 * the caller's identity gets our short-lived token instead; `x-hms-*` is ours alone, a caller
 * cannot set it. Forwarded-for/host/proto are set by us, not passed through.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
const CREDENTIALS = new Set(["authorization", "cookie", "proxy-authorization"]);
const OURS = new Set(["traceparent", "tracestate", "x-request-id", "host", "forwarded"]);

function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const c = headers.connection;
  if (!c) return new Set();
  return new Set(
    String(c)
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

export interface TraceContext {
  traceId: string;
  /** the caller's span (null when we started the trace) */
  parentId: string | null;
  /** our span for the upstream call */
  spanId: string;
  flags: string;
  tracestate: string | null;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** W3C trace context: continue the caller's trace (a new span for our hop), or start one. */
export function traceContextOf(headers: IncomingHttpHeaders): TraceContext {
  const raw = headers.traceparent;
  const m = typeof raw === "string" ? TRACEPARENT.exec(raw.trim().toLowerCase()) : null;
  const valid = m && !/^0+$/.test(m[1]!) && !/^0+$/.test(m[2]!);
  const spanId = randomBytes(8).toString("hex");
  if (!valid)
    return { traceId: randomBytes(16).toString("hex"), parentId: null, spanId, flags: "01", tracestate: null };
  const ts = headers.tracestate;
  return {
    traceId: m[1]!,
    parentId: m[2]!,
    spanId,
    flags: m[3]!,
    tracestate: typeof ts === "string" && ts.length <= 512 ? ts : null,
  };
}

export function traceparentOf(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`;
}

export function requestIdOf(headers: IncomingHttpHeaders, trace: TraceContext): string {
  const given = headers["x-request-id"];
  return typeof given === "string" && /^[\w.-]{1,128}$/.test(given) ? given : trace.traceId;
}

export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  o: {
    trace: TraceContext;
    requestId: string;
    clientIp: string | null;
    host: string | undefined;
    proto: "http" | "https";
    identityToken: string | null;
    upstreamHost: string;
  },
): OutgoingHttpHeaders {
  const drop = connectionListed(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || CREDENTIALS.has(name) || OURS.has(name) || drop.has(name)) continue;
    if (name.startsWith("x-hms-") || name.startsWith("x-forwarded-")) continue;
    out[name] = value;
  }
  out.host = o.upstreamHost;
  out.traceparent = traceparentOf(o.trace);
  if (o.trace.tracestate) out.tracestate = o.trace.tracestate;
  out["x-request-id"] = o.requestId;
  if (o.clientIp) out["x-forwarded-for"] = o.clientIp;
  if (o.host) out["x-forwarded-host"] = o.host;
  out["x-forwarded-proto"] = o.proto;
  if (o.identityToken) out.authorization = `Bearer ${o.identityToken}`;
  return out;
}

/** Response headers back to the caller: hop-by-hop removed; ours added by the caller. */
export function downstreamResponseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const drop = connectionListed(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue;
    out[name] = value;
  }
  return out;
}
