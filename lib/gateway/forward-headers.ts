import { HOP_BY_HOP, listedByConnection as listedBy } from "../http/hop-by-hop";
import { randomHex } from "./random-ids";

/**
 * What crosses the gateway in each direction (issue 4 item 1). Hop-by-hop headers (RFC 9110
 * §7.6.1, plus any the Connection header names) never cross; the caller's credentials
 * (Authorization, Cookie, Proxy-Authorization) never reach the upstream — a service that wants
 * the caller's identity gets our short-lived token instead; `x-hms-*` is ours alone, a caller
 * cannot set it. Forwarded-for/host/proto are set by us, not passed through.
 *
 * Works on Node's raw header lists (`rawHeaders`: name, value, name, value …) in one pass each
 * way, and hands raw lists to `http.request` / `writeHead`: building and re-reading
 * `req.headers` objects cost the data plane a measurable share of its CPU.
 */
const CREDENTIALS = new Set(["authorization", "cookie", "proxy-authorization"]);
const OURS = new Set(["traceparent", "tracestate", "x-request-id", "host", "forwarded"]);
/** Set by the gateway on every answer; an upstream's own values would make them ambiguous. */
const RESPONSE_OURS = new Set(["traceparent", "x-request-id"]);

/** The request headers the gateway itself reads, from one pass over the raw list. */
export interface RequestFacts {
  authorization: string | undefined;
  traceparent: string | undefined;
  tracestate: string | undefined;
  requestId: string | undefined;
  host: string | undefined;
  /** a body follows (Transfer-Encoding, or Content-Length > 0) */
  hasBody: boolean;
  /** header names the Connection header lists (hop-by-hop for this message) */
  connectionListed: ReadonlySet<string>;
}

export function requestFacts(raw: readonly string[]): RequestFacts {
  const f: RequestFacts = {
    authorization: undefined,
    traceparent: undefined,
    tracestate: undefined,
    requestId: undefined,
    host: undefined,
    hasBody: false,
    connectionListed: listedBy(undefined),
  };
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    switch (name) {
      case "authorization":
        f.authorization ??= value;
        break;
      case "traceparent":
        f.traceparent ??= value;
        break;
      case "tracestate":
        f.tracestate ??= value;
        break;
      case "x-request-id":
        f.requestId ??= value;
        break;
      case "host":
        f.host ??= value;
        break;
      case "transfer-encoding":
        f.hasBody = true;
        break;
      case "content-length":
        if (Number(value) > 0) f.hasBody = true;
        break;
      case "connection":
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
    }
  }
  f.connectionListed = listedBy(connection);
  return f;
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
export function traceContextOf(f: Pick<RequestFacts, "traceparent" | "tracestate">): TraceContext {
  const m = f.traceparent === undefined ? null : TRACEPARENT.exec(f.traceparent.trim().toLowerCase());
  const valid = m && !/^0+$/.test(m[1]!) && !/^0+$/.test(m[2]!);
  const spanId = randomHex(8);
  if (!valid) return { traceId: randomHex(16), parentId: null, spanId, flags: "01", tracestate: null };
  const ts = f.tracestate;
  return {
    traceId: m[1]!,
    parentId: m[2]!,
    spanId,
    flags: m[3]!,
    tracestate: ts !== undefined && ts.length <= 512 ? ts : null,
  };
}

export function traceparentOf(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`;
}

export function requestIdOf(f: Pick<RequestFacts, "requestId">, trace: TraceContext): string {
  const given = f.requestId;
  return given !== undefined && /^[\w.-]{1,128}$/.test(given) ? given : trace.traceId;
}

/** The upstream request's raw header list. */
export function upstreamRequestHeaders(
  raw: readonly string[],
  facts: RequestFacts,
  o: {
    trace: TraceContext;
    requestId: string;
    clientIp: string | null;
    proto: "http" | "https";
    identityToken: string | null;
    upstreamHost: string;
  },
): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || CREDENTIALS.has(lower) || OURS.has(lower) || facts.connectionListed.has(lower)) {
      continue;
    }
    if (lower.startsWith("x-hms-") || lower.startsWith("x-forwarded-")) continue;
    out.push(name, raw[i + 1]!);
  }
  out.push("host", o.upstreamHost, "traceparent", traceparentOf(o.trace), "x-request-id", o.requestId);
  if (o.trace.tracestate) out.push("tracestate", o.trace.tracestate);
  if (o.clientIp) out.push("x-forwarded-for", o.clientIp);
  if (facts.host) out.push("x-forwarded-host", facts.host);
  out.push("x-forwarded-proto", o.proto);
  if (o.identityToken) out.push("authorization", `Bearer ${o.identityToken}`);
  return out;
}

/** Response headers back to the caller: hop-by-hop removed; the caller appends ours. */
export function downstreamResponseHeaders(raw: readonly string[]): string[] {
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === "connection") connection = raw[i + 1];
  }
  const listed = listedBy(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower) || RESPONSE_OURS.has(lower) || lower.startsWith("x-hms-")) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
