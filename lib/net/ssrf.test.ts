import dns from "node:dns";
import http from "node:http";
import net from "node:net";
import ipaddr from "ipaddr.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError, type AppError, type ErrorCode } from "../http/app-error";
import {
  assertAddressAllowed,
  checkUrlAllowed,
  networkPolicyFromEnv,
  type NetworkPolicy,
  type Resolver,
} from "./network-policy";
import { safeRequest } from "./safe-http";

/*
 * The SSRF matrix. Every refused payload is tried twice — at registration (`checkUrlAllowed`) and
 * as a probe (`safeRequest`) — and must be refused with its code while ZERO TCP connections reach
 * the counting listeners on 127.0.0.1 (and ::1), to which the loopback payloads point.
 */

// ---------------------------------------------------------------------------------------------
// Network guard: while this file runs, nothing may connect anywhere but loopback and no real DNS
// query may be made, even if the code under test regresses. Literal targets are checked in
// Socket#connect; names are checked by wrapping the `lookup` the socket was given, so the guard
// sees the address Node is about to connect to. `guard.handedToConnect` records each address that
// got as far as connect().
// ---------------------------------------------------------------------------------------------

type LookupCallback = (err: Error | null, address?: unknown, family?: number) => void;
type LookupLike = (host: string, options: object, callback: LookupCallback) => void;

const guard = { handedToConnect: [] as string[] };
const originalConnect = net.Socket.prototype.connect;
const originalLookup = dns.lookup;
const originalPromisesLookup = dns.promises.lookup;

function isLoopbackTarget(ip: string): boolean {
  return ipaddr.isValid(ip) && ipaddr.process(ip).range() === "loopback";
}

function connectOptionsOf(args: unknown[]): Record<string, unknown> | null {
  const first: unknown = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  return typeof first === "object" && first !== null ? (first as Record<string, unknown>) : null;
}

function addressesOf(address: unknown): string[] {
  if (!Array.isArray(address)) return [String(address)];
  return address.map((a: { address: string }) => a.address);
}

function guardedLookup(inner: LookupLike): LookupLike {
  return (host, options, callback) =>
    inner(host, options, (err, address, family) => {
      if (err) return callback(err);
      const outside = addressesOf(address).find((a) => !isLoopbackTarget(a));
      if (outside !== undefined) return callback(new Error(`network guard: ${host} -> ${outside} is not loopback`));
      guard.handedToConnect.push(...addressesOf(address));
      callback(null, address, family);
    });
}

function guardedConnect(this: net.Socket, ...args: unknown[]): net.Socket {
  const options = connectOptionsOf(args);
  if (options === null) throw new Error("network guard: connect() without an options object");
  const host = typeof options.host === "string" ? options.host : "localhost";
  if (net.isIP(host) !== 0) {
    if (!isLoopbackTarget(host)) throw new Error(`network guard: refused to connect to ${host}`);
    guard.handedToConnect.push(host);
  } else if (typeof options.lookup === "function") {
    options.lookup = guardedLookup(options.lookup as LookupLike);
  } else {
    throw new Error(`network guard: ${host} would be resolved by the system resolver`);
  }
  return Reflect.apply(originalConnect, this, args) as net.Socket;
}

function refuseRealDns(host: string): never {
  throw new Error(`network guard: real DNS lookup of ${host} refused`);
}

/** dns.lookup of an IP literal asks no one (server.listen uses it); any name is refused. */
function literalOnly<F extends (host: string, ...rest: never[]) => unknown>(original: F): F {
  return ((host: string, ...rest: never[]) =>
    net.isIP(host) !== 0 ? original(host, ...rest) : refuseRealDns(host)) as F;
}

function installNetworkGuard(): void {
  net.Socket.prototype.connect = guardedConnect as typeof originalConnect;
  dns.lookup = literalOnly(originalLookup);
  dns.promises.lookup = literalOnly(originalPromisesLookup);
}

function removeNetworkGuard(): void {
  net.Socket.prototype.connect = originalConnect;
  dns.lookup = originalLookup;
  dns.promises.lookup = originalPromisesLookup;
}

// ---------------------------------------------------------------------------------------------
// Counting listeners (HTTP servers, so the positive cases can be answered).
// ---------------------------------------------------------------------------------------------

interface Listener {
  server: http.Server;
  port: number;
  connections: number;
}

async function listen(host: string, port: number, status = 200, headers: Record<string, string> = {}) {
  const listener: Listener = { server: http.createServer(), port: 0, connections: 0 };
  listener.server.on("request", (_req, res) => res.writeHead(status, headers).end(`hello from ${host}`));
  listener.server.on("connection", () => (listener.connections += 1));
  try {
    await new Promise<void>((resolve, reject) => {
      listener.server.once("error", reject);
      listener.server.listen(port, host, () => resolve());
    });
  } catch {
    return null;
  }
  listener.port = (listener.server.address() as net.AddressInfo).port;
  return listener;
}

async function close(listener: Listener | null | undefined): Promise<void> {
  if (listener === null || listener === undefined) return;
  listener.server.closeAllConnections();
  await new Promise<void>((resolve) => listener.server.close(() => resolve()));
}

let v4: Listener;
let v6: Listener | null; // ::1 on the same port as v4 when the host has IPv6 loopback
let alt: Listener | null; // 127.0.0.2, stands in for an allow-listed host

function connectionsSoFar(): number {
  return v4.connections + (v6?.connections ?? 0) + (alt?.connections ?? 0);
}

/** Lets a stray connection (if any) land before counting. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

beforeAll(async () => {
  installNetworkGuard();
  const first = await listen("127.0.0.1", 0);
  if (first === null) throw new Error("cannot listen on 127.0.0.1");
  v4 = first;
  v6 = await listen("::1", v4.port);
  alt = await listen("127.0.0.2", 0, 302, { location: `http://127.0.0.1:${v4.port}/` });
});

afterAll(async () => {
  await Promise.all([close(v4), close(v6), close(alt)]);
  removeNetworkGuard();
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const strict: NetworkPolicy = networkPolicyFromEnv({});

function fakeDns(answers: Record<string, string[]>): Resolver {
  return async (host) => {
    const found = answers[host];
    if (found === undefined) throw Object.assign(new Error(`queryA ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return found;
  };
}

const dnsZone = fakeDns({
  "metadata.google.internal": ["169.254.169.254"],
  "loopback.test": ["127.0.0.1"],
  "mixed.test": ["8.8.8.8", "10.0.0.5"],
  "mixed6.test": ["2606:4700::1111", "::1"],
  "mapped.test": ["::ffff:127.0.0.1"],
  "public.test": ["8.8.8.8", "2606:4700::1111"],
  "empty.test": [],
});

async function refusal(attempt: Promise<unknown>): Promise<AppError> {
  try {
    await attempt;
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
  throw new Error("expected a refusal, but the request was allowed");
}

function fill(url: string): string {
  return url.replaceAll("{v4}", String(v4.port)).replaceAll("{v6}", String(v6?.port ?? v4.port));
}

interface Payload {
  url: string;
  code: ErrorCode;
  why: string;
  /** Use the default (system) resolver; the guard refuses it any real DNS query. */
  systemResolver?: true;
}

// ---------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------

const payloads: Payload[] = [
  // IPv4 loopback in every encoding WHATWG URL normalises to 127.0.0.1
  { url: "http://2130706433:{v4}/", code: "ssrf_loopback", why: "decimal IPv4" },
  { url: "http://0x7f000001:{v4}/", code: "ssrf_loopback", why: "hex IPv4" },
  { url: "http://0177.0.0.1:{v4}/", code: "ssrf_loopback", why: "octal IPv4" },
  { url: "http://127.1:{v4}/", code: "ssrf_loopback", why: "short IPv4" },
  { url: "http://0x7f.1:{v4}/", code: "ssrf_loopback", why: "hex short IPv4" },
  { url: "http://127.0.0.1:{v4}/", code: "ssrf_loopback", why: "plain loopback" },
  { url: "http://127.0.0.1.:{v4}/", code: "ssrf_loopback", why: "trailing-dot IPv4" },
  { url: "http://%31%32%37.0.0.1:{v4}/", code: "ssrf_loopback", why: "percent-encoded IPv4" },
  { url: "http://127.255.255.254:{v4}/", code: "ssrf_loopback", why: "end of 127/8" },
  // IPv6 loopback and IPv6 forms that carry 127.0.0.1
  { url: "http://[::1]:{v6}/", code: "ssrf_loopback", why: "IPv6 loopback" },
  { url: "http://[::ffff:127.0.0.1]:{v4}/", code: "ssrf_loopback", why: "IPv4-mapped, dotted" },
  { url: "http://[::ffff:7f00:1]:{v4}/", code: "ssrf_loopback", why: "IPv4-mapped, hex" },
  { url: "http://[0:0:0:0:0:ffff:127.0.0.1]:{v4}/", code: "ssrf_loopback", why: "IPv4-mapped, long form" },
  { url: "http://[64:ff9b::7f00:1]:{v4}/", code: "ssrf_loopback", why: "NAT64 of 127.0.0.1" },
  { url: "http://[2002:7f00:1::]:{v4}/", code: "ssrf_loopback", why: "6to4 of 127.0.0.1" },
  // names that mean loopback
  {
    url: "http://localhost:{v4}/",
    code: "ssrf_loopback",
    why: "localhost (system resolver path)",
    systemResolver: true,
  },
  {
    url: "http://LOCALHOST.:{v4}/",
    code: "ssrf_loopback",
    why: "upper-case localhost with trailing dot",
    systemResolver: true,
  },
  { url: "http://app.localhost:{v4}/", code: "ssrf_loopback", why: "*.localhost", systemResolver: true },
  { url: "http://loopback.test:{v4}/", code: "ssrf_loopback", why: "DNS answer 127.0.0.1" },
  { url: "http://mapped.test:{v4}/", code: "ssrf_loopback", why: "DNS answer ::ffff:127.0.0.1" },
  // unspecified
  { url: "http://0.0.0.0:{v4}/", code: "ssrf_unspecified", why: "0.0.0.0 (reaches localhost on Linux)" },
  { url: "http://0:{v4}/", code: "ssrf_unspecified", why: "0 normalised to 0.0.0.0" },
  { url: "http://[::]:{v6}/", code: "ssrf_unspecified", why: "IPv6 unspecified" },
  // cloud metadata and link-local
  { url: "http://169.254.169.254/latest/meta-data/", code: "ssrf_link_local", why: "AWS/GCP/Azure metadata" },
  { url: "http://metadata.google.internal/computeMetadata/v1/", code: "ssrf_link_local", why: "metadata by name" },
  { url: "http://[::ffff:169.254.169.254]/", code: "ssrf_link_local", why: "metadata, IPv4-mapped" },
  { url: "http://[fe80::1]/", code: "ssrf_link_local", why: "IPv6 link-local" },
  { url: "http://[fd00:ec2::254]/latest/meta-data/", code: "ssrf_private", why: "AWS IPv6 metadata" },
  // private, CGNAT, multicast, broadcast, reserved
  { url: "http://10.0.0.1/", code: "ssrf_private", why: "RFC 1918 10/8" },
  { url: "http://192.168.1.1/", code: "ssrf_private", why: "RFC 1918 192.168/16" },
  { url: "http://172.16.0.1/", code: "ssrf_private", why: "RFC 1918 172.16/12" },
  { url: "http://[fc00::1]/", code: "ssrf_private", why: "IPv6 unique-local" },
  { url: "http://100.64.0.1/", code: "ssrf_cgnat", why: "CGNAT" },
  { url: "http://224.0.0.1/", code: "ssrf_multicast", why: "IPv4 multicast" },
  { url: "http://[ff02::1]/", code: "ssrf_multicast", why: "IPv6 multicast" },
  { url: "http://255.255.255.255/", code: "ssrf_broadcast", why: "limited broadcast" },
  { url: "http://192.0.2.1/", code: "ssrf_reserved", why: "documentation TEST-NET-1" },
  { url: "http://198.18.0.1/", code: "ssrf_reserved", why: "benchmarking" },
  { url: "http://240.0.0.1/", code: "ssrf_reserved", why: "240/4" },
  { url: "http://[2001:db8::1]/", code: "ssrf_reserved", why: "IPv6 documentation" },
  // DNS answers
  { url: "http://mixed.test/", code: "ssrf_private", why: "one public and one private answer" },
  { url: "http://mixed6.test:{v6}/", code: "ssrf_loopback", why: "one public and one loopback IPv6 answer" },
  { url: "http://nxdomain.test/", code: "dns_resolution_failed", why: "name does not resolve" },
  { url: "http://empty.test/", code: "dns_resolution_failed", why: "no A/AAAA answers" },
  // URL syntax
  { url: "http://user:pass@example.test/", code: "url_credentials_not_allowed", why: "userinfo" },
  { url: "http://user@127.0.0.1:{v4}/", code: "url_credentials_not_allowed", why: "user name only" },
  { url: "ftp://x/", code: "url_scheme_not_allowed", why: "ftp" },
  { url: "file:///etc/passwd", code: "url_scheme_not_allowed", why: "file" },
  { url: "gopher://127.0.0.1:{v4}/_GET%20/%20HTTP/1.1", code: "url_scheme_not_allowed", why: "gopher smuggling" },
  { url: "data:text/plain,hello", code: "url_scheme_not_allowed", why: "data" },
  { url: "javascript:alert(1)", code: "url_scheme_not_allowed", why: "javascript" },
  { url: "not a url", code: "url_invalid", why: "not a URL" },
  { url: "http://[::1", code: "url_invalid", why: "unterminated IPv6 literal" },
  { url: "http://999.1.1.1/", code: "url_invalid", why: "IPv4 octet out of range" },
];

describe("the SSRF matrix", () => {
  it("has at least 30 payloads", () => {
    expect(payloads.length).toBeGreaterThanOrEqual(30);
  });

  it.each(payloads)("refuses $url ($why) with $code at registration and probe time, no connection", async (p) => {
    const url = fill(p.url);
    const connectionsBefore = connectionsSoFar();
    const handedBefore = guard.handedToConnect.length;

    const resolver = p.systemResolver ? undefined : dnsZone;
    const atRegistration = await refusal(checkUrlAllowed(url, strict, { resolve: resolver }));
    const atProbe = await refusal(safeRequest(url, { policy: strict, timeoutMs: 2000, lookup: resolver }));

    for (const err of [atRegistration, atProbe]) {
      expect(err.code).toBe(p.code);
      expect(err.status).toBe(422);
      if (p.code.startsWith("ssrf_")) expect(err.detail).toMatch(/health checks may not reach it\. An admin can allow/);
    }
    await settle();
    expect(connectionsSoFar()).toBe(connectionsBefore);
    expect(guard.handedToConnect.length).toBe(handedBefore);
  });

  it("explains the metadata refusal in plain words", async () => {
    const err = await refusal(checkUrlAllowed("http://169.254.169.254/latest/meta-data/", strict));
    expect(err.detail).toBe(
      "169.254.169.254 is a link-local address (cloud metadata); health checks may not reach it. " +
        "An admin can allow it with HMS_ALLOW_PRIVATE_NETWORKS.",
    );
    const byName = await refusal(checkUrlAllowed("http://metadata.google.internal/", strict, { resolve: dnsZone }));
    expect(byName.detail).toMatch(/^metadata\.google\.internal resolves to 169\.254\.169\.254, which is a link-local/);
    expect(byName.extra).toMatchObject({ host: "metadata.google.internal", address: "169.254.169.254" });
  });

  it("relies on WHATWG URL to normalise numeric IPv4 spellings to dotted quads", () => {
    for (const raw of [
      "http://2130706433/",
      "http://0x7f000001/",
      "http://0177.0.0.1/",
      "http://127.1/",
      "http://0x7f.1/",
    ]) {
      expect(new URL(raw).hostname, raw).toBe("127.0.0.1");
    }
    expect(new URL("http://[::ffff:127.0.0.1]/").hostname).toBe("[::ffff:7f00:1]");
  });
});

describe("DNS rebinding", () => {
  it("passes registration on a public answer, then refuses the probe when the name rebinds to 127.0.0.1", async () => {
    let calls = 0;
    const rebinding: Resolver = async () => (++calls === 1 ? ["8.8.8.8"] : ["127.0.0.1"]);
    const url = await checkUrlAllowed(`http://rebind.test:${v4.port}/health`, strict, { resolve: rebinding });
    expect(url.href).toBe(`http://rebind.test:${v4.port}/health`);

    const before = connectionsSoFar();
    const handedBefore = guard.handedToConnect.length;
    const err = await refusal(safeRequest(url, { policy: strict, timeoutMs: 2000, lookup: rebinding }));
    expect(err.code).toBe("ssrf_loopback");
    expect(err.detail).toMatch(/^rebind\.test resolves to 127\.0\.0\.1, which is a loopback address/);
    expect(calls).toBe(2); // the probe resolved again, inside the socket's connect-time lookup
    await settle();
    expect(connectionsSoFar()).toBe(before);
    expect(guard.handedToConnect.length).toBe(handedBefore);
  });

  it("refuses the whole probe when one answer is allowed and another is not (nothing connects to either)", async (ctx) => {
    if (alt === null) return ctx.skip();
    const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.2/32" });
    const both = fakeDns({ "both.test": ["127.0.0.2", "127.0.0.1"] });
    const before = connectionsSoFar();
    const err = await refusal(safeRequest(`http://both.test:${alt.port}/`, { policy, timeoutMs: 2000, lookup: both }));
    expect(err.code).toBe("ssrf_loopback");
    await settle();
    expect(connectionsSoFar()).toBe(before);
  });

  it("connects to exactly the address it checked", async (ctx) => {
    if (alt === null) return ctx.skip();
    const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.2/32" });
    const resolver = fakeDns({ "alt.test": ["127.0.0.2"] });
    const altBefore = alt.connections;
    const v4Before = v4.connections;
    const res = await safeRequest(`http://alt.test:${alt.port}/`, { policy, timeoutMs: 2000, lookup: resolver });
    expect(res.status).toBe(302);
    expect(res.body).toBe("hello from 127.0.0.2");
    expect(alt.connections).toBe(altBefore + 1);
    expect(v4.connections).toBe(v4Before);
  });
});

describe("redirects", () => {
  it("returns a 302 to a refused address as a result and never follows it", async (ctx) => {
    if (alt === null) return ctx.skip();
    const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.2/32" });
    const v4Before = v4.connections;
    const altBefore = alt.connections;

    const res = await safeRequest(`http://127.0.0.2:${alt.port}/`, { policy, timeoutMs: 2000 });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`http://127.0.0.1:${v4.port}/`);
    await settle();
    expect(alt.connections).toBe(altBefore + 1);
    expect(v4.connections).toBe(v4Before);

    // and a caller that tried to follow it would be refused, still without a connection
    const followed = await refusal(safeRequest(res.headers.location ?? "", { policy, timeoutMs: 2000 }));
    expect(followed.code).toBe("ssrf_loopback");
    await settle();
    expect(v4.connections).toBe(v4Before);
  });

  it("does not follow a redirect even to an allowed address", async () => {
    const target = await listen("127.0.0.1", 0);
    const redirector = await listen("127.0.0.1", 0, 301, { location: `http://127.0.0.1:${target?.port}/` });
    if (target === null || redirector === null) throw new Error("cannot listen on 127.0.0.1");
    try {
      const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.0/8" });
      const res = await safeRequest(`http://127.0.0.1:${redirector.port}/`, { policy, timeoutMs: 2000 });
      expect(res.status).toBe(301);
      await settle();
      expect(redirector.connections).toBe(1);
      expect(target.connections).toBe(0);
    } finally {
      await Promise.all([close(target), close(redirector)]);
    }
  });
});

describe("what an allow-list permits", () => {
  it("with HMS_ALLOW_PRIVATE_NETWORKS=127.0.0.1/32 a probe reaches the listener: exactly one connection", async () => {
    const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.1/32" });
    const url = await checkUrlAllowed(`http://127.0.0.1:${v4.port}/health`, policy);
    const before = v4.connections;
    const res = await safeRequest(url, { policy, timeoutMs: 2000 });
    expect(res.status).toBe(200);
    expect(res.body).toBe("hello from 127.0.0.1");
    expect(v4.connections).toBe(before + 1);
  });

  it("the decimal and IPv4-mapped payloads really point at the listener (so their refusals are meaningful)", async () => {
    const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.1/32" });
    const before = v4.connections;
    const decimal = await safeRequest(`http://2130706433:${v4.port}/`, { policy, timeoutMs: 2000 });
    const mapped = await safeRequest(`http://[::ffff:127.0.0.1]:${v4.port}/`, { policy, timeoutMs: 2000 });
    expect([decimal.status, mapped.status]).toEqual([200, 200]);
    expect(v4.connections).toBe(before + 2);
  });

  it("still refuses everything outside the allow-list", async () => {
    const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.1/32" });
    expect((await refusal(checkUrlAllowed("http://127.0.0.2/", policy))).code).toBe("ssrf_loopback");
    expect((await refusal(checkUrlAllowed("http://[::1]/", policy))).code).toBe("ssrf_loopback");
    expect((await refusal(checkUrlAllowed("http://169.254.169.254/", policy))).code).toBe("ssrf_link_local");
    // localhost answers 127.0.0.1 AND ::1, and one disallowed answer refuses the name
    expect((await refusal(checkUrlAllowed("http://localhost/", policy))).code).toBe("ssrf_loopback");
  });

  it("demo mode allows 127.0.0.1 and ::1 for the demo fleet, and nothing else", async () => {
    const policy = networkPolicyFromEnv({ HMS_DEMO: "1" });
    const before = v4.connections;
    const res = await safeRequest(`http://127.0.0.1:${v4.port}/`, { policy, timeoutMs: 2000 });
    expect(res.status).toBe(200);
    expect(v4.connections).toBe(before + 1);
    await expect(checkUrlAllowed(`http://localhost:${v4.port}/`, policy)).resolves.toBeInstanceOf(URL);
    if (v6 !== null) {
      const v6Res = await safeRequest(`http://[::1]:${v6.port}/`, { policy, timeoutMs: 2000 });
      expect(v6Res.body).toBe("hello from ::1");
    }
    expect((await refusal(checkUrlAllowed("http://127.0.0.2/", policy))).code).toBe("ssrf_loopback");
    expect((await refusal(checkUrlAllowed("http://10.0.0.1/", policy))).code).toBe("ssrf_private");
    expect((await refusal(checkUrlAllowed("http://169.254.169.254/", policy))).code).toBe("ssrf_link_local");
  });

  it("accepts a public URL, resolving every answer, and returns it normalised", async () => {
    const url = await checkUrlAllowed("HTTP://Public.TEST:80/a/../health?x=1", strict, { resolve: dnsZone });
    expect(url.href).toBe("http://public.test/health?x=1");
    expect((await checkUrlAllowed("https://8.8.8.8/", strict)).href).toBe("https://8.8.8.8/");
    expect((await checkUrlAllowed("http://[2606:4700::1111]/", strict)).hostname).toBe("[2606:4700::1111]");
  });
});

describe("networkPolicyFromEnv", () => {
  it("parses comma-separated CIDRs, IPv4 and IPv6, ignoring blanks", () => {
    const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: " 10.0.0.0/8, fd00::/8,,192.168.1.1/32 " });
    expect(policy.describe).toEqual([
      "10.0.0.0/8 (HMS_ALLOW_PRIVATE_NETWORKS)",
      "fd00::/8 (HMS_ALLOW_PRIVATE_NETWORKS)",
      "192.168.1.1/32 (HMS_ALLOW_PRIVATE_NETWORKS)",
    ]);
    expect(() => assertAddressAllowed("10.20.30.40", policy)).not.toThrow();
    expect(() => assertAddressAllowed("::ffff:10.20.30.40", policy)).not.toThrow();
    expect(() => assertAddressAllowed("fd12::1", policy)).not.toThrow();
    expect(() => assertAddressAllowed("192.168.1.1", policy)).not.toThrow();
    expect(() => assertAddressAllowed("192.168.1.2", policy)).toThrow(/private address/);
    expect(() => assertAddressAllowed("fc00::1", policy)).toThrow(/unique-local/);
  });

  it("is empty by default and adds 127.0.0.1/32 and ::1/128 in demo mode", () => {
    expect(networkPolicyFromEnv({}).allow).toEqual([]);
    expect(networkPolicyFromEnv({ HMS_DEMO: "0" }).allow).toEqual([]);
    expect(networkPolicyFromEnv({ HMS_DEMO: "1" }).describe).toEqual(["127.0.0.1/32 (HMS_DEMO)", "::1/128 (HMS_DEMO)"]);
    expect(networkPolicyFromEnv({ HMS_DEMO: "true" }).allow).toHaveLength(2);
  });

  it.each(["10.0.0/8", "10.0.0.0", "10.0.0.0/33", "not-a-cidr", "0x0a.0.0.0/8", "fe80::/129"])(
    "throws a plain Error naming the bad entry %s",
    (bad) => {
      expect(() => networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: `10.0.0.0/8,${bad}` })).toThrow(
        new Error(`HMS_ALLOW_PRIVATE_NETWORKS: "${bad}" is not a CIDR (expected e.g. 10.0.0.0/8,fd00::/8)`),
      );
    },
  );
});

describe("the network guard of this file", () => {
  it("refuses a non-loopback connect before any packet is sent", () => {
    expect(() => net.connect({ host: "192.0.2.1", port: 9 })).toThrow(/network guard/);
  });

  it("refuses a name whose lookup hands over a non-loopback address", async () => {
    const lookup: LookupLike = (_host, _options, callback) => callback(null, [{ address: "192.0.2.1", family: 4 }]);
    const socket = net.connect({ host: "guard.test", port: 9, lookup: lookup as net.LookupFunction });
    const err = await new Promise<Error>((resolve) => socket.once("error", resolve));
    expect(err.message).toMatch(/network guard: guard\.test -> 192\.0\.2\.1/);
  });
});
