import type { LookupAddress, LookupOptions } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { performance } from "node:perf_hooks";
import { isAppError, type AppError } from "../http/app-error";
import {
  assertAddressAllowed,
  defaultResolver,
  hostOf,
  parseHttpUrl,
  resolveHost,
  type NetworkPolicy,
  type Resolver,
} from "./network-policy";

/**
 * The HTTP client of health probes. Every address it connects to is checked against the SSRF
 * policy at connect time: literal IPs before the request, names inside the socket's `lookup`, so
 * the address checked is the address connected to (no DNS-rebinding window). One fresh connection
 * per probe (`agent: false`), redirects are returned, never followed, the body is capped and one
 * deadline covers connect, headers and body.
 */

export interface SafeResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  latencyMs: number;
}

export interface SafeRequestOptions {
  method?: "GET" | "HEAD";
  /** One deadline for connect + headers + body. */
  timeoutMs: number;
  policy: NetworkPolicy;
  /** Read at most this many body bytes, then stop (default 64 KiB). */
  maxBodyBytes?: number;
  headers?: Record<string, string>;
  /** Resolver for host names (tests inject a fake); default: the system resolver. */
  lookup?: Resolver;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
const USER_AGENT = "hms-sys-health/1";
const ACCEPT = "application/health+json, application/json;q=0.9, */*;q=0.1";

/** The probe's deadline passed (`code: "ETIMEDOUT"`). */
export class ProbeTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
  constructor(timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
    this.name = "ProbeTimeoutError";
  }
}

function wantedFamily(family: LookupOptions["family"]): 0 | 4 | 6 {
  if (family === 4 || family === "IPv4") return 4;
  if (family === 6 || family === "IPv6") return 6;
  return 0;
}

function toLookupAddresses(addresses: string[], family: 0 | 4 | 6): LookupAddress[] {
  return addresses
    .map((address) => ({ address, family: isIP(address) }))
    .filter((a) => family === 0 || a.family === family);
}

function checkedAddresses(
  hostname: string,
  addresses: string[],
  policy: NetworkPolicy,
  options: LookupOptions,
): LookupAddress[] {
  for (const ip of addresses) assertAddressAllowed(ip, policy, { host: hostname });
  const usable = toLookupAddresses(addresses, wantedFamily(options.family));
  if (usable.length === 0) {
    throw Object.assign(new Error(`${hostname} has no address of the requested family`), { code: "ENOTFOUND" });
  }
  return usable;
}

/**
 * A `lookup` for the socket: resolve, refuse (with the AppError) if ANY answer is disallowed,
 * otherwise hand Node exactly the checked addresses to connect to.
 */
export function checkedLookup(
  policy: NetworkPolicy,
  resolve: Resolver,
  onRefused: (e: AppError) => void,
): LookupFunction {
  return (hostname, options, callback) => {
    const fail = (e: unknown): void => {
      if (isAppError(e)) onRefused(e);
      callback(e instanceof Error ? e : new Error(String(e)), "");
    };
    const deliver = (addresses: string[]): void => {
      let usable: LookupAddress[];
      try {
        usable = checkedAddresses(hostname, addresses, policy, options);
      } catch (e) {
        fail(e);
        return;
      }
      const first = usable[0] as LookupAddress;
      if (options.all === true) callback(null, usable);
      else callback(null, first.address, first.family);
    };
    resolveHost(hostname, resolve).then(deliver, fail);
  };
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function requestHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { "user-agent": USER_AGENT, accept: ACCEPT };
  for (const [name, value] of Object.entries(extra)) out[name.toLowerCase()] = value;
  return out;
}

interface Exchange {
  resolve: (r: SafeResponse) => void;
  reject: (e: unknown) => void;
  started: number;
  maxBodyBytes: number;
}

/** Collects at most `maxBodyBytes` of the body, then stops reading and settles. */
function readResponse(res: http.IncomingMessage, ex: Exchange, stop: () => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    const body = Buffer.concat(chunks, size).toString("utf8");
    const latencyMs = performance.now() - ex.started;
    ex.resolve({ status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body, latencyMs });
    stop();
  };
  res.on("data", (chunk: Buffer) => {
    const room = ex.maxBodyBytes - size;
    if (room > 0) {
      const part = chunk.subarray(0, room);
      chunks.push(part);
      size += part.length;
    }
    if (size >= ex.maxBodyBytes) finish();
  });
  res.on("end", finish);
  res.on("error", (e) => ex.reject(e));
  res.on("close", () => {
    if (!res.complete && !done) ex.reject(new Error("the connection closed before the response was complete"));
  });
  if (ex.maxBodyBytes <= 0) finish();
}

function send(url: URL, host: string, opts: SafeRequestOptions): Promise<SafeResponse> {
  return new Promise<SafeResponse>((resolve, reject) => {
    let settled = false;
    let refusal: AppError | undefined;
    const started = performance.now();
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.request({
      protocol: url.protocol,
      hostname: host,
      port: url.port === "" ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: opts.method ?? "GET",
      headers: requestHeaders(opts.headers),
      agent: false,
      lookup: checkedLookup(opts.policy, opts.lookup ?? defaultResolver, (e) => (refusal = e)),
    });
    const timer = setTimeout(() => ex.reject(new ProbeTimeoutError(opts.timeoutMs)), opts.timeoutMs);
    const stop = (): void => {
      clearTimeout(timer);
      req.destroy();
    };
    const ex: Exchange = {
      started,
      maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      resolve: (r) => {
        if (settled) return;
        settled = true;
        resolve(r);
      },
      reject: (e) => {
        if (settled) return;
        settled = true;
        stop();
        reject(refusal ?? e);
      },
    };
    req.on("error", (e) => ex.reject(e));
    req.on("response", (res) => readResponse(res, ex, stop));
    req.end();
  });
}

/**
 * One probe request. Throws the 422 AppError (`url_*`, `dns_resolution_failed`, `ssrf_*`) when
 * the URL or an address it resolves to is refused, a `ProbeTimeoutError` (`ETIMEDOUT`) when the
 * deadline passes, and the socket's error otherwise. A 3xx is returned as it is.
 */
export async function safeRequest(url: string | URL, opts: SafeRequestOptions): Promise<SafeResponse> {
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) {
    throw new RangeError(`timeoutMs must be a positive number, got ${opts.timeoutMs}`);
  }
  const target = parseHttpUrl(url);
  const host = hostOf(target);
  // Node does not call `lookup` for an IP literal, so literals are checked here.
  if (isIP(host) !== 0) assertAddressAllowed(host, opts.policy);
  return send(target, host, opts);
}
