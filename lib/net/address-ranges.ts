import ipaddr from "ipaddr.js";
import type { ErrorCode } from "../http/app-error";

/**
 * Which IP addresses a health probe may not reach on its own (SSRF policy, ARCHITECTURE.md §6).
 * `classifyAddress` answers null for a public, routable address and otherwise says which
 * special-purpose range the address is in. IPv6 forms that carry an IPv4 address (IPv4-mapped,
 * IPv4-translated, NAT64, 6to4) are judged by the IPv4 address they carry.
 *
 * The ranges are listed explicitly (so each refusal can name its range); ipaddr.js's own
 * `.range()` is consulted afterwards, so a special range it knows and this table misses is still
 * refused (fail closed).
 */

export type SsrfCode = Extract<ErrorCode, `ssrf_${string}`>;

export interface AddressClass {
  code: SsrfCode;
  /** The CIDR the address fell in, e.g. "169.254.0.0/16". */
  range: string;
  /** A noun phrase with its article, e.g. "a link-local address (cloud metadata)". */
  label: string;
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Embedding = "ipv4-mapped" | "ipv4-translated" | "nat64" | "6to4";

interface Rule {
  cidr: string;
  net: [Address, number];
  code: SsrfCode | Embedding;
  label: string;
}

function rule(cidr: string, code: SsrfCode | Embedding, label: string): Rule {
  return { cidr, net: ipaddr.parseCIDR(cidr), code, label };
}

/** First match wins, so the narrower range comes first. */
const ipv4Rules: readonly Rule[] = [
  rule("0.0.0.0/8", "ssrf_unspecified", 'an unspecified address ("this network", 0.0.0.0/8)'),
  rule("255.255.255.255/32", "ssrf_broadcast", "the limited broadcast address"),
  rule("127.0.0.0/8", "ssrf_loopback", "a loopback address"),
  rule("10.0.0.0/8", "ssrf_private", "a private address (RFC 1918)"),
  rule("172.16.0.0/12", "ssrf_private", "a private address (RFC 1918)"),
  rule("192.168.0.0/16", "ssrf_private", "a private address (RFC 1918)"),
  rule("169.254.169.254/32", "ssrf_link_local", "a link-local address (cloud metadata)"),
  rule("169.254.0.0/16", "ssrf_link_local", "a link-local address"),
  rule("100.64.0.0/10", "ssrf_cgnat", "a carrier-grade NAT address (RFC 6598)"),
  rule("224.0.0.0/4", "ssrf_multicast", "a multicast address"),
  rule("192.0.0.0/24", "ssrf_reserved", "a reserved address (IETF protocol assignments)"),
  rule("192.0.2.0/24", "ssrf_reserved", "a reserved documentation address (TEST-NET-1)"),
  rule("198.51.100.0/24", "ssrf_reserved", "a reserved documentation address (TEST-NET-2)"),
  rule("203.0.113.0/24", "ssrf_reserved", "a reserved documentation address (TEST-NET-3)"),
  rule("198.18.0.0/15", "ssrf_reserved", "a reserved benchmarking address"),
  rule("192.88.99.0/24", "ssrf_reserved", "a reserved address (deprecated 6to4 relay anycast)"),
  rule("240.0.0.0/4", "ssrf_reserved", "a reserved address (240.0.0.0/4)"),
];

const ipv6Rules: readonly Rule[] = [
  rule("::/128", "ssrf_unspecified", "the unspecified IPv6 address"),
  rule("::1/128", "ssrf_loopback", "the IPv6 loopback address"),
  rule("::ffff:0:0/96", "ipv4-mapped", "an IPv4-mapped IPv6 address"),
  rule("::ffff:0:0:0/96", "ipv4-translated", "an IPv4-translated IPv6 address"),
  rule("64:ff9b::/96", "nat64", "a NAT64 address"),
  rule("64:ff9b:1::/48", "ssrf_private", "a local-use NAT64 address (RFC 8215)"),
  rule("2002::/16", "6to4", "a 6to4 address"),
  rule("::/96", "ssrf_reserved", "a reserved IPv6 address (deprecated IPv4-compatible)"),
  rule("fd00:ec2::254/128", "ssrf_private", "a unique-local IPv6 address (cloud metadata)"),
  rule("fc00::/7", "ssrf_private", "a unique-local IPv6 address (private)"),
  rule("fe80::/10", "ssrf_link_local", "a link-local IPv6 address"),
  rule("fec0::/10", "ssrf_private", "a site-local IPv6 address (deprecated, private)"),
  rule("ff00::/8", "ssrf_multicast", "a multicast IPv6 address"),
  rule("100::/64", "ssrf_reserved", "a reserved IPv6 address (discard-only)"),
  rule("2001:db8::/32", "ssrf_reserved", "a reserved IPv6 documentation address"),
  rule("3fff::/20", "ssrf_reserved", "a reserved IPv6 documentation address"),
  rule("2001::/32", "ssrf_reserved", "a reserved IPv6 address (Teredo tunnelling)"),
  rule("2001:2::/48", "ssrf_reserved", "a reserved IPv6 benchmarking address"),
  rule("2001::/23", "ssrf_reserved", "a reserved IPv6 address (IETF protocol assignments)"),
  rule("5f00::/16", "ssrf_reserved", "a reserved IPv6 address (segment routing)"),
];

/** IPv6 global unicast; anything outside it that no rule named is refused as reserved. */
const globalUnicast = ipaddr.parseCIDR("2000::/3");

/** Ranges ipaddr.js names that are nevertheless public and routable (anycast services). */
const routableIpaddrRanges = new Set([
  "unicast",
  "as112",
  "amt",
  "as112v6",
  "orchid2",
  "droneRemoteIdProtocolEntityTags",
]);

function matches(addr: Address, [net, bits]: [Address, number]): boolean {
  return addr.kind() === net.kind() && addr.match(net, bits);
}

function findRule(addr: Address): Rule | undefined {
  const rules = addr.kind() === "ipv4" ? ipv4Rules : ipv6Rules;
  return rules.find((r) => matches(addr, r.net));
}

function ipv4FromParts(hi: number | undefined, lo: number | undefined): ipaddr.IPv4 {
  const h = hi ?? 0;
  const l = lo ?? 0;
  return new ipaddr.IPv4([h >> 8, h & 0xff, l >> 8, l & 0xff]);
}

/** The IPv4 address an IPv6 address carries (IPv4-mapped/-translated, NAT64, 6to4), or null. */
export function embeddedIPv4(addr: ipaddr.IPv6): ipaddr.IPv4 | null {
  const r = findRule(addr);
  if (r === undefined) return null;
  if (r.code === "6to4") return ipv4FromParts(addr.parts[1], addr.parts[2]);
  if (r.code === "ipv4-mapped") return addr.toIPv4Address();
  if (r.code === "ipv4-translated" || r.code === "nat64") return ipv4FromParts(addr.parts[6], addr.parts[7]);
  return null;
}

/** True for an IPv4-mapped IPv6 address (::ffff:a.b.c.d), which is the IPv4 host itself. */
export function isIPv4Mapped(addr: Address): addr is ipaddr.IPv6 {
  return addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress();
}

function classifyEmbedded(addr: ipaddr.IPv6, r: Rule): AddressClass | null {
  const v4 = embeddedIPv4(addr);
  if (v4 === null) return null;
  const inner = classifyParsed(v4);
  if (inner === null) return null;
  return { code: inner.code, range: inner.range, label: `${r.label} carrying ${v4.toString()}, ${inner.label}` };
}

function classifyByIpaddr(addr: Address): AddressClass | null {
  const name = addr.range();
  if (routableIpaddrRanges.has(name)) return null;
  return { code: "ssrf_reserved", range: name, label: `a reserved special-purpose address (${name})` };
}

function classifyParsed(addr: Address): AddressClass | null {
  const r = findRule(addr);
  if (r !== undefined) {
    if (r.code.startsWith("ssrf_")) return { code: r.code as SsrfCode, range: r.cidr, label: r.label };
    return classifyEmbedded(addr as ipaddr.IPv6, r);
  }
  if (addr.kind() === "ipv6" && !matches(addr, globalUnicast)) {
    return { code: "ssrf_reserved", range: "not 2000::/3", label: "a reserved IPv6 address (not global unicast)" };
  }
  return classifyByIpaddr(addr);
}

/** Parses an IP address string (IPv6 may carry a %zone); null when it is not one. */
export function parseAddress(ip: string): Address | null {
  const bare = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  return ipaddr.isValid(bare) ? ipaddr.parse(bare) : null;
}

/**
 * Null when `ip` is public and routable; otherwise the refusal code, range and a label. A string
 * that is not an IP address is refused as reserved (fail closed).
 */
export function classifyAddress(ip: string): AddressClass | null {
  const addr = parseAddress(ip);
  if (addr === null) return { code: "ssrf_reserved", range: "invalid", label: "not a valid IP address" };
  return classifyParsed(addr);
}
