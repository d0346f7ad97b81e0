import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "../http/app-error";
import { networkPolicyFromEnv, type Resolver } from "./network-policy";
import { DEFAULT_MAX_BODY_BYTES, ProbeTimeoutError, safeRequest } from "./safe-http";

/** Every server here listens on 127.0.0.1 only, which this policy allow-lists. */
const policy = networkPolicyFromEnv({ HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.1/32" });
const MB = 1024 * 1024;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

const seen: Seen[] = [];
const big = Buffer.alloc(MB, "a");
let bigClosedEarly = false;

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
  switch (new URL(req.url ?? "/", "http://x").pathname) {
    case "/health":
      res.writeHead(503, {
        "content-type": "application/health+json",
        "x-probe": "yes",
        "set-cookie": ["a=1", "b=2"],
      });
      res.end(JSON.stringify({ status: "fail" }));
      return;
    case "/redirect":
      res.writeHead(302, { location: `http://127.0.0.1:${(target.address() as net.AddressInfo).port}/` }).end();
      return;
    case "/big":
      sendBig(res, 0);
      return;
    case "/big-paced":
      sendBig(res, 20);
      return;
    case "/stall-body":
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial "); // …and never ends
      return;
    default:
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  }
}

/**
 * 1 MB in 16 KiB writes (every `paceMs` when > 0, so the whole body takes over a second), recording
 * whether the client hung up before all of it was sent.
 */
function sendBig(res: http.ServerResponse, paceMs: number): void {
  let written = 0;
  bigClosedEarly = false;
  res.writeHead(200, { "content-type": "text/plain", "content-length": String(big.length) });
  res.on("close", () => (bigClosedEarly = !res.writableFinished));
  const step = 16 * 1024;
  const writeMore = (): void => {
    while (written < big.length && !res.destroyed) {
      const chunk = big.subarray(written, written + step);
      written += chunk.length;
      const flushed = res.write(chunk);
      if (paceMs > 0) return void setTimeout(writeMore, paceMs);
      if (!flushed) return void res.once("drain", writeMore);
    }
    if (!res.destroyed) res.end();
  };
  writeMore();
}

const app = http.createServer(handle);
const target = http.createServer((_req, res) => res.end("target"));
let targetConnections = 0;
target.on("connection", () => (targetConnections += 1));
/** Accepts connections and never answers. */
const silent = net.createServer(() => undefined);
const silentSockets = new Set<net.Socket>();
silent.on("connection", (s) => {
  silentSockets.add(s);
  s.on("close", () => silentSockets.delete(s));
});

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
  );
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

let appPort = 0;
let silentPort = 0;

beforeAll(async () => {
  [appPort, silentPort] = await Promise.all([listen(app), listen(silent), listen(target)]);
});

afterAll(async () => {
  app.closeAllConnections();
  target.closeAllConnections();
  for (const s of silentSockets) s.destroy();
  await Promise.all([closeServer(app), closeServer(target), closeServer(silent)]);
});

const base = () => `http://127.0.0.1:${appPort}`;

describe("safeRequest", () => {
  it("returns status, headers and body, sends our user-agent and accept, and measures latency", async () => {
    const res = await safeRequest(`${base()}/health?verbose=1`, { policy, timeoutMs: 2000 });
    expect(res.status).toBe(503);
    expect(res.headers["content-type"]).toBe("application/health+json");
    expect(res.headers["x-probe"]).toBe("yes");
    expect(res.headers["set-cookie"]).toBe("a=1, b=2");
    expect(JSON.parse(res.body)).toEqual({ status: "fail" });
    expect(res.latencyMs).toBeGreaterThan(0);
    expect(res.latencyMs).toBeLessThan(2000);

    const req = seen.at(-1);
    expect(req?.method).toBe("GET");
    expect(req?.url).toBe("/health?verbose=1");
    expect(req?.headers["user-agent"]).toBe("hms-sys-health/1");
    expect(req?.headers.accept).toBe("application/health+json, application/json;q=0.9, */*;q=0.1");
  });

  it("sends HEAD and extra headers, and returns an empty body", async () => {
    const res = await safeRequest(`${base()}/`, {
      policy,
      timeoutMs: 2000,
      method: "HEAD",
      headers: { "X-Request-Id": "probe-1" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe("");
    expect(seen.at(-1)?.method).toBe("HEAD");
    expect(seen.at(-1)?.headers["x-request-id"]).toBe("probe-1");
  });

  it("returns a 3xx as it is and never follows it", async () => {
    const before = targetConnections;
    const res = await safeRequest(`${base()}/redirect`, { policy, timeoutMs: 2000 });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`http://127.0.0.1:${(target.address() as net.AddressInfo).port}/`);
    await new Promise((r) => setTimeout(r, 50));
    expect(targetConnections).toBe(before);
  });

  it("reads at most maxBodyBytes of a 1 MB body, returns at once, and hangs up", async () => {
    const started = Date.now();
    const res = await safeRequest(`${base()}/big-paced`, { policy, timeoutMs: 5000, maxBodyBytes: 1000 });
    expect(Date.now() - started).toBeLessThan(1000); // sending all of it takes > 1.2 s
    expect(res.status).toBe(200);
    expect(res.body).toBe("a".repeat(1000));
    await new Promise((r) => setTimeout(r, 50));
    expect(bigClosedEarly).toBe(true); // the server could not finish sending the 1 MB
  });

  it("caps the body at 64 KiB by default", async () => {
    expect(DEFAULT_MAX_BODY_BYTES).toBe(64 * 1024);
    const res = await safeRequest(`${base()}/big`, { policy, timeoutMs: 5000 });
    expect(res.body.length).toBe(64 * 1024);
  });

  it("times out on a server that accepts but never answers: ETIMEDOUT within timeout + slack", async () => {
    const started = Date.now();
    const err: unknown = await safeRequest(`http://127.0.0.1:${silentPort}/`, { policy, timeoutMs: 200 }).catch(
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(ProbeTimeoutError);
    expect(err).toMatchObject({ code: "ETIMEDOUT", message: "timed out after 200 ms" });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(200 + 1000);
  });

  it("counts the body in the deadline: headers then a stalled body time out too", async () => {
    const err: unknown = await safeRequest(`${base()}/stall-body`, { policy, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ETIMEDOUT", message: "timed out after 300 ms" });
  });

  it("resolves names at connect time and connects to the checked address (Host header keeps the name)", async () => {
    const calls: string[] = [];
    const resolver: Resolver = async (host) => {
      calls.push(host);
      return ["127.0.0.1"];
    };
    const res = await safeRequest(`http://svc.test:${appPort}/`, { policy, timeoutMs: 2000, lookup: resolver });
    expect(res.body).toBe("ok");
    expect(calls).toEqual(["svc.test"]);
    expect(seen.at(-1)?.headers.host).toBe(`svc.test:${appPort}`);
  });

  it("refuses a name resolving to a disallowed address with that AppError, not a socket error", async () => {
    const err: unknown = await safeRequest(`http://internal.test:${appPort}/`, {
      policy,
      timeoutMs: 2000,
      lookup: async () => ["10.1.2.3"],
    }).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe("ssrf_private");
  });

  it("turns a resolver failure into dns_resolution_failed", async () => {
    const err: unknown = await safeRequest(`http://nowhere.test:${appPort}/`, {
      policy,
      timeoutMs: 2000,
      lookup: async () => {
        throw Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.test"), { code: "ENOTFOUND" });
      },
    }).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe("dns_resolution_failed");
    expect(isAppError(err) && err.detail).toBe("The host name nowhere.test could not be resolved (ENOTFOUND).");
  });

  it("passes a refused connection through as the socket error", async () => {
    const closed = http.createServer();
    const port = await listen(closed);
    await closeServer(closed);
    await expect(safeRequest(`http://127.0.0.1:${port}/`, { policy, timeoutMs: 2000 })).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
  });

  it("rejects a non-positive timeout", async () => {
    await expect(safeRequest(`${base()}/`, { policy, timeoutMs: 0 })).rejects.toThrow(RangeError);
  });
});
