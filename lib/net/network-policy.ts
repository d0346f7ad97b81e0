import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { envSchema } from "../config/env";
import { AppError, isAppError } from "../http/app-error";
import { classifyAddress, isIPv4Mapped, parseAddress } from "./address-ranges";

/**
 * The SSRF policy (ARCHITECTURE.md §6): which URLs a service may register and which addresses a
 * health probe may connect to. Public addresses are always allowed; special-purpose ones
 * (loopback, private, link-local, …) only when an admin allow-lists them.
 */

export interface NetworkPolicy {
  allow: [ipaddr.IPv4 | ipaddr.IPv6, number][];
  /** Human-readable allow-list, e.g. "10.0.0.0/8 (HMS_ALLOW_PRIVATE_NETWORKS)". */
  describe: string[];
}

/** Resolves a host name to every A/AAAA answer. */
export type Resolver = (host: string) => Promise<string[]>;

const ALLOW_VAR = "HMS_ALLOW_PRIVATE_NETWORKS";
const DEMO_CIDRS = ["127.0.0.1/32", "::1/128"];

function isStrictCidr(entry: string): boolean {
  if (ipaddr.IPv4.isValidCIDRFourPartDecimal(entry)) return true;
  return !entry.includes(".") && ipaddr.IPv6.isValidCIDR(entry);
}

function parseAllowEntry(entry: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (!isStrictCidr(entry)) {
    throw new Error(`${ALLOW_VAR}: "${entry}" is not a CIDR (expected e.g. 10.0.0.0/8,fd00::/8)`);
  }
  return ipaddr.parseCIDR(entry);
}

function demoModeOn(env: Readonly<Record<string, string | undefined>>): boolean {
  const parsed = envSchema.shape.HMS_DEMO.safeParse(env.HMS_DEMO);
  if (!parsed.success) throw new Error(`HMS_DEMO: "${env.HMS_DEMO}" is not one of 1/0/true/false/yes/no`);
  return parsed.data === true;
}

function describeCidr([addr, bits]: [ipaddr.IPv4 | ipaddr.IPv6, number], source: string): string {
  return `${addr.toString()}/${bits} (${source})`;
}

/**
 * The policy from the environment: `HMS_ALLOW_PRIVATE_NETWORKS` (comma-separated CIDRs), plus
 * 127.0.0.1/32 and ::1/128 in demo mode (`HMS_DEMO=1`) for the demo fleet. Throws a plain Error
 * naming the entry when a CIDR is malformed (an operator's mistake, refused loudly).
 */
export function networkPolicyFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): NetworkPolicy {
  const policy: NetworkPolicy = { allow: [], describe: [] };
  const entries = (env[ALLOW_VAR] ?? "").split(",").map((s) => s.trim());
  for (const entry of entries.filter((s) => s !== "")) {
    const cidr = parseAllowEntry(entry);
    policy.allow.push(cidr);
    policy.describe.push(describeCidr(cidr, ALLOW_VAR));
  }
  if (demoModeOn(env)) {
    for (const entry of DEMO_CIDRS) {
      const cidr = ipaddr.parseCIDR(entry);
      policy.allow.push(cidr);
      policy.describe.push(describeCidr(cidr, "HMS_DEMO"));
    }
  }
  return policy;
}

function inCidr(addr: ipaddr.IPv4 | ipaddr.IPv6, [net, bits]: [ipaddr.IPv4 | ipaddr.IPv6, number]): boolean {
  return addr.kind() === net.kind() && addr.match(net, bits);
}

/** True when the policy's allow-list covers `ip` (an IPv4-mapped address also by its IPv4). */
export function isAllowListed(ip: string, policy: NetworkPolicy): boolean {
  const addr = parseAddress(ip);
  if (addr === null) return false;
  const forms = isIPv4Mapped(addr) ? [addr, addr.toIPv4Address()] : [addr];
  return policy.allow.some((cidr) => forms.some((form) => inCidr(form, cidr)));
}

/**
 * Throws the 422 `ssrf_*` AppError unless `ip` is public or allow-listed. `host` (when the address
 * came from resolving a name) makes the message say where the address came from.
 */
export function assertAddressAllowed(ip: string, policy: NetworkPolicy, opts: { host?: string } = {}): void {
  const found = classifyAddress(ip);
  if (found === null || isAllowListed(ip, policy)) return;
  const subject = opts.host === undefined ? `${ip} is` : `${opts.host} resolves to ${ip}, which is`;
  throw new AppError(
    found.code,
    `${subject} ${found.label}; health checks may not reach it. An admin can allow it with ${ALLOW_VAR}.`,
    { extra: { address: ip, range: found.range, ...(opts.host === undefined ? {} : { host: opts.host }) } },
  );
}

/**
 * A URL a probe may be pointed at, syntactically: WHATWG-parsed (which normalises decimal, octal,
 * hex and short IPv4 hosts to dotted quads), http/https only, no user name or password.
 */
export function parseHttpUrl(raw: string | URL): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError("url_invalid", `"${String(raw)}" is not a valid absolute URL.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new AppError(
      "url_scheme_not_allowed",
      `The scheme "${url.protocol.replace(/:$/, "")}" is not allowed; health checks use http or https only.`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new AppError(
      "url_credentials_not_allowed",
      "The URL contains a user name or password; credentials may not be embedded in a service URL.",
    );
  }
  return url;
}

/** The URL's host as a connectable string (IPv6 literals without brackets). */
export function hostOf(url: URL): string {
  const h = url.hostname;
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost");
}

/**
 * The system resolver (getaddrinfo, every A/AAAA answer in resolver order). `localhost` and
 * `*.localhost` answer loopback without asking anyone (RFC 6761).
 */
export const defaultResolver: Resolver = async (host) => {
  if (isLocalhostName(host)) return ["127.0.0.1", "::1"];
  const answers = await dns.lookup(host, { all: true, verbatim: true });
  return answers.map((a) => a.address);
};

function errorCodeOf(e: unknown): string {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") return e.code;
  return e instanceof Error ? e.message : String(e);
}

/** Every address `host` resolves to; 422 `dns_resolution_failed` when there is none. */
export async function resolveHost(host: string, resolve: Resolver = defaultResolver): Promise<string[]> {
  let answers: string[];
  try {
    answers = await resolve(host);
  } catch (e) {
    if (isAppError(e)) throw e;
    throw new AppError("dns_resolution_failed", `The host name ${host} could not be resolved (${errorCodeOf(e)}).`, {
      cause: e,
    });
  }
  if (answers.length === 0) {
    throw new AppError("dns_resolution_failed", `The host name ${host} did not resolve to any IP address.`);
  }
  return answers;
}

/**
 * The registration-time check: a syntactically allowed URL whose host is an allowed literal
 * address, or a name every one of whose A/AAAA answers is allowed (one disallowed answer refuses
 * the URL). Returns the normalised URL. Probes check again at connect time (safe-http.ts), since
 * DNS answers may change after registration.
 */
export async function checkUrlAllowed(
  raw: string,
  policy: NetworkPolicy,
  opts: { resolve?: Resolver } = {},
): Promise<URL> {
  const url = parseHttpUrl(raw);
  const host = hostOf(url);
  if (isIP(host) !== 0) {
    assertAddressAllowed(host, policy);
    return url;
  }
  const addresses = await resolveHost(host, opts.resolve);
  for (const ip of addresses) assertAddressAllowed(ip, policy, { host });
  return url;
}
