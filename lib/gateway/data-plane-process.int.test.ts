import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../db/free-port";
import { systemPool } from "../db/pool";
import { createHealthService } from "../health/test-fixtures";
import { startUpstream, type Upstream } from "../health/test-upstream";
import { createAgency, type TestUser } from "../testing/fixtures";
import { withEarlyAnswerGuard } from "../http/early-answer";
import { agentRequest } from "../http/test-raw-client";
import { until, untilValue } from "../testing/poll";

/**
 * The data-plane process (scripts/gateway-server.ts) as `npm start` runs it: its own node process
 * on the public port, the gateway served there, everything else passed to the web process. The
 * web process here is a small real HTTP server that records what reaches it (Next.js is not the
 * subject); the upstream is real; the database is the integration PostgreSQL.
 */
interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
let web: http.Server;
let webUrl = "";
let child: ChildProcess;
let stderr = "";
let base = "";
let dir = "";
let upstream: Upstream;
let operator: TestUser;
let tenantId = "";
const serviceName = `dp-${Date.now().toString(36)}`;

function startWeb(port = 0): Promise<void> {
  // Guarded like the real web process (scripts/web-server.ts).
  web = http.createServer(
    withEarlyAnswerGuard((req, res) => {
      if (req.url === "/early") {
        // Like intake's 413: answered before reading the upload.
        res.writeHead(413, { "content-type": "application/problem+json" });
        res.end(JSON.stringify({ code: "payload_too_large" }));
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (req.url === "/api/metrics") {
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
          res.end(
            [
              "# HELP web_only_gauge Only the web process has this.",
              "# TYPE web_only_gauge gauge",
              "web_only_gauge 7",
              "# HELP hms_gateway_requests_total Gateway requests.",
              "# TYPE hms_gateway_requests_total counter",
              "",
            ].join("\n"),
          );
        } else if (req.url === "/events") {
          // A server-sent stream: the first event must reach the client while the stream is open.
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
          res.write("data: first\n\n");
          setTimeout(() => res.end("data: last\n\n"), 1_500);
        } else {
          res.writeHead(201, { "content-type": "application/json", "x-web-header": "kept", "set-cookie": "a=b" });
          res.end(JSON.stringify({ from: "web" }));
        }
      });
    }),
  );
  web.on("upgrade", (req, socket) => {
    socket.write("HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n");
    socket.pipe(socket);
  });
  return new Promise((resolve) =>
    web.listen(port, "127.0.0.1", () => {
      webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "hms-dp-"));
  await startWeb();
  upstream = await startUpstream({ kind: "echo" });
  const agency = await createAgency();
  tenantId = agency.tenantId;
  operator = agency.operator;
  await createHealthService(systemPool(), tenantId, { name: serviceName }, [{ url: upstream.url, nextCheck: "never" }]);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ["--import", "tsx", "scripts/gateway-server.ts"], {
    env: {
      ...process.env,
      NODE_ENV: "production",
      PORT: String(port),
      HMS_LISTEN_HOST: "127.0.0.1",
      HMS_WEB_URL: webUrl,
      HMS_ALLOW_PRIVATE_NETWORKS: "127.0.0.0/8",
      HMS_LOG_FORMAT: "json",
      HMS_LOG_LEVEL: "info",
      HMS_ACCESS_LOG_FILE: path.join(dir, "access.log"),
      HMS_REPLICA_ID: `dp-test-${port}`,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr!.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-10_000)));
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`data plane exited: ${stderr}`);
      const r = await fetch(`${base}/api/v1/gw/${serviceName}/ready`, {
        headers: { authorization: `Bearer ${operator.token}` },
      }).catch(() => null);
      await r?.arrayBuffer();
      return r?.status === 200;
    },
    60_000,
    250,
  );
}, 90_000);

afterAll(async () => {
  child?.kill("SIGTERM");
  await new Promise((r) => (child?.exitCode === null ? child.once("exit", r) : r(null)));
  await upstream?.close();
  await new Promise((r) => web.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the data-plane process", () => {
  it("serves the gateway in its own process and writes the access log as JSON lines to its file", async () => {
    const r = await fetch(`${base}/api/v1/gw/${serviceName}/hello?x=1`, {
      headers: { authorization: `Bearer ${operator.token}` },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("x-hms-region")).toBe("primary");
    const echo = (await r.json()) as { url: string };
    expect(echo.url).toBe("/hello?x=1");
    expect(seen.some((s) => s.url.includes("/api/v1/gw/"))).toBe(false); // never passed to the web process

    // Written in 4 KiB batches: enough calls to flush at least one.
    for (let i = 0; i < 60; i++) {
      const more = await fetch(`${base}/api/v1/gw/${serviceName}/fill-${i}`, {
        headers: { authorization: `Bearer ${operator.token}` },
      });
      await more.arrayBuffer();
    }
    const lines = await untilValue(
      "the access log line",
      async () => {
        const text = await readFile(path.join(dir, "access.log"), "utf8").catch(() => "");
        const parsed = text
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { msg: string; tenant: string; service: string; status: number });
        return parsed.some((l) => l.service === serviceName) ? parsed : null;
      },
      10_000,
    );
    const line = lines.find((l) => l.service === serviceName)!;
    expect(line).toMatchObject({ msg: "gateway", tenant: tenantId, status: 200 });
  });

  it("passes everything else to the web process unchanged: method, path, Host, body, credentials; the client's address appended to X-Forwarded-For", async () => {
    const r = await fetch(`${base}/api/v1/services?limit=5`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        cookie: "session=abc",
        "x-forwarded-for": "203.0.113.66",
        connection: "keep-alive",
      },
      body: JSON.stringify({ hello: "web" }),
    });
    expect(r.status).toBe(201);
    expect(r.headers.get("x-web-header")).toBe("kept");
    expect(r.headers.get("set-cookie")).toBe("a=b");
    expect(await r.json()).toEqual({ from: "web" });
    const s = seen.find((x) => x.url === "/api/v1/services?limit=5")!;
    expect(s.method).toBe("POST");
    expect(s.body).toBe('{"hello":"web"}');
    expect(s.headers.cookie).toBe("session=abc");
    expect(s.headers.host).toBe(new URL(base).host);
    // The forged entry stays where the client put it; the web process reads the last one (ours).
    expect(s.headers["x-forwarded-for"]).toBe("203.0.113.66, 127.0.0.1");
  });

  it("streams server-sent events through without buffering them", async () => {
    const t0 = performance.now();
    const r = await fetch(`${base}/events`);
    const reader = r.body!.getReader();
    const first = await reader.read();
    const firstAt = performance.now() - t0;
    expect(new TextDecoder().decode(first.value)).toContain("data: first");
    expect(firstAt).toBeLessThan(1_400); // the stream ends at 1.5 s: the first event came before it
    let rest = "";
    for (;;) {
      const c = await reader.read();
      if (c.done) break;
      rest += new TextDecoder().decode(c.value);
    }
    expect(rest).toContain("data: last");
  });

  it("passes upgrades (the dev server's WebSocket) both ways", async () => {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = http.request(`${base}/_next/webpack-hmr`, {
        headers: { connection: "Upgrade", upgrade: "echo" },
      });
      req.on("upgrade", (res, s) => {
        expect(res.statusCode).toBe(101);
        resolve(s);
      });
      req.on("error", reject);
      req.end();
    });
    const echoed = await new Promise<string>((resolve) => {
      socket.once("data", (b: Buffer) => resolve(b.toString()));
      socket.write("ping");
    });
    expect(echoed).toBe("ping");
    socket.destroy();
  });

  it("merges the web process's metrics with its own gateway series on GET /api/metrics", async () => {
    const anon = await fetch(`${base}/api/metrics`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get("content-type")).toBe("application/problem+json");
    const r = await fetch(`${base}/api/metrics`, { headers: { authorization: `Bearer ${operator.token}` } });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain("web_only_gauge 7");
    expect(text).toMatch(
      new RegExp(`hms_gateway_requests_total\\{[^}]*tenant="${tenantId}"[^}]*service="${serviceName}"`),
    );
    expect(text.match(/^# TYPE hms_gateway_requests_total /gm)).toHaveLength(1);
  });

  it("relays the web process's early answer to an upload with Connection: close; the client's next request is not reset", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const early = await agentRequest(base, agent, {
        method: "POST",
        path: "/early",
        headers: { "content-type": "application/pdf" },
        bodyBytes: 30 * 1024 * 1024,
        deadlineMs: 20_000,
      });
      expect(early.status).toBe(413);
      expect(early.headers.connection).toBe("close");
      expect(JSON.parse(early.body)).toEqual({ code: "payload_too_large" });
      const next = await agentRequest(base, agent, { path: "/after-early" });
      expect(next.status).toBe(201);
    } finally {
      agent.destroy();
    }
  });

  it("answers 503 dependency_unavailable with Retry-After while the web process is down, and recovers", async () => {
    const port = Number(new URL(webUrl).port);
    await new Promise((r) => {
      web.closeAllConnections();
      web.close(r);
    });
    const down = await fetch(`${base}/claims/page`);
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("2");
    expect(((await down.json()) as { code: string }).code).toBe("dependency_unavailable");
    // The gateway does not depend on the web process.
    const gw = await fetch(`${base}/api/v1/gw/${serviceName}/still`, {
      headers: { authorization: `Bearer ${operator.token}` },
    });
    expect(gw.status).toBe(200);
    await gw.arrayBuffer();
    await startWeb(port);
    const back = await fetch(`${base}/claims/page`);
    expect(back.status).toBe(201);
    await back.arrayBuffer();
  });
});
