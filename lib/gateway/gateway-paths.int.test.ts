import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "../db/pool";
import { createHealthService } from "../health/test-fixtures";
import { startUpstream, type Upstream } from "../health/test-upstream";
import { createAgency, type TestUser } from "../testing/fixtures";
import { startTestGateway, type TestGateway } from "./test-gateway";

/**
 * The gateway's path check (ARCHITECTURE.md §7 Gateway) against a real upstream registered under
 * a base path: what reaches the upstream always starts with `/base/`, and a path that could
 * leave it (dot segments, encoded slashes, backslashes, control characters, `//host`) is refused
 * with 400 `path_invalid` before any upstream sees it. Requests go out with node:http and the
 * path as-is: fetch (like curl without --path-as-is) would normalise the dots away first.
 */
let gw: TestGateway<never>;
let upstream: Upstream;
let user: TestUser;
let service: string;

beforeAll(async () => {
  gw = await startTestGateway<never>();
  upstream = await startUpstream({ kind: "echo" });
  const a = await createAgency();
  user = a.operator;
  const svc = await createHealthService(systemPool(), a.tenantId, {}, [
    { url: `${upstream.url}/base`, nextCheck: "never" },
  ]);
  service = svc.name;
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET with the request target sent byte for byte as given. */
function rawGet(target: string): Promise<Answer> {
  const { hostname, port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { hostname, port, method: "GET", path: target, headers: { authorization: `Bearer ${user.token}` } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The same over a bare socket, for bytes node:http refuses to send (a raw tab). */
function socketGet(target: string): Promise<string> {
  const { hostname, port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => {
      s.write(
        Buffer.concat([
          Buffer.from("GET "),
          Buffer.from(target, "latin1"),
          Buffer.from(` HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nConnection: close\r\n\r\n`),
        ]),
      );
    });
    let data = "";
    s.on("data", (b: Buffer) => (data += b.toString("latin1")));
    s.on("end", () => resolve(data.split("\r\n")[0] ?? ""));
    s.on("error", reject);
  });
}

const gwPath = (rest: string) => `/api/v1/gw/${service}${rest}`;

describe("gateway paths", () => {
  it.each([
    "/a/../../../etc/passwd",
    "/..",
    "/a/.",
    "/./a",
    "/a/%2e%2e/%2E%2e/etc/passwd",
    "/a/.%2e/x",
    "/a/%2E./x",
    "/%2e",
    "/a%2fb",
    "/a%2F..%2Fb",
    "/a%5cb",
    "/a%5C..%5Cb",
    "/a\\b",
    "/a\\..\\..\\b",
    "/a%00b",
    "/a%0Ab",
    "/a%0d%0aX-Injected:%201",
    "/a%09",
    "/a%7F",
    "//evil.example/x",
    "/a/%zz",
    "/a/%4",
  ])("refuses %s with 400 path_invalid, and the upstream never sees it", async (rest) => {
    const before = upstream.totalHits();
    const r = await rawGet(gwPath(rest));
    expect(r.status).toBe(400);
    expect(r.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(r.body)).toMatchObject({ status: 400, code: "path_invalid" });
    expect(upstream.totalHits()).toBe(before);
  });

  it.each([
    ["", "/base/"],
    ["/", "/base/"],
    ["/a/b/", "/base/a/b/"],
    ["/a/b", "/base/a/b"],
    ["/a/%252e%252e/b", "/base/a/%252e%252e/b"],
    ["/a/%252f", "/base/a/%252f"],
    ["/a/.../b..c/.d", "/base/a/.../b..c/.d"],
    ["/a//b", "/base/a//b"],
    ["/caf%C3%A9/%F0%9F%9A%80", "/base/caf%C3%A9/%F0%9F%9A%80"],
    ["/a%20b", "/base/a%20b"],
    ["?x=1", "/base/?x=1"],
    ["/q?p=../../etc&r=%2e%2e%2f&s=%5c", "/base/q?p=../../etc&r=%2e%2e%2f&s=%5c"],
  ])("forwards %s as %s (under the base path, query untouched)", async (rest, expected) => {
    const r = await rawGet(gwPath(rest));
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { url: string }).url).toBe(expected);
  });

  it("a raw control character never gets past the HTTP parser (400, nothing forwarded)", async () => {
    const before = upstream.totalHits();
    expect(await socketGet(gwPath("/a\tb"))).toBe("HTTP/1.1 400 Bad Request");
    expect(await socketGet(gwPath("/a?x=\u0001"))).toBe("HTTP/1.1 400 Bad Request");
    expect(upstream.totalHits()).toBe(before);
  });

  it("the upstream only ever receives paths under the base path, even after normalising them", async () => {
    for (const rest of ["/a/../../x", "/%2e%2e/x", "/a%2f..%2f..%2fx", "/a\\..\\x", "//x", "/ok", ""]) {
      await rawGet(gwPath(rest));
    }
    const seen = [...upstream.hits.keys()];
    expect(seen.length).toBeGreaterThan(0);
    for (const p of seen) {
      expect(p.startsWith("/base/")).toBe(true);
      // what a framework that resolves dots, %2e and backslashes (WHATWG URL) would serve
      expect(new URL(p, "http://upstream").pathname.startsWith("/base/")).toBe(true);
    }
  });
});
