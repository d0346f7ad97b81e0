import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A real HTTP upstream on 127.0.0.1 for health-probe tests, switchable at run time:
 * - `ok`: 200 text/plain
 * - `slow`: 200 after `delayMs`
 * - `status`: plain `status` (e.g. 500, 302 with a Location)
 * - `health`: `application/health+json` with `{ status: healthStatus, output }` and `status`
 * - `hang`: accepts the request and never answers
 * - `reset`: destroys the connection without an answer
 * and `down()` / `up()` stop and resume listening on the same port (connection refused).
 * Hits are counted per request path.
 */
export type UpstreamMode =
  | { kind: "ok" }
  | { kind: "slow"; delayMs: number }
  | { kind: "status"; status: number; headers?: Record<string, string> }
  | { kind: "health"; healthStatus: string; status?: number; output?: string; delayMs?: number }
  | { kind: "hang" }
  | { kind: "reset" }
  /** 200 JSON describing the request: method, url, headers, body size and SHA-256 (gateway tests) */
  | { kind: "echo"; status?: number };

export interface Upstream {
  /** base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  mode: UpstreamMode;
  hits: Map<string, number>;
  totalHits(): number;
  /** when the last request's first body byte arrived (performance.now()), null before any */
  firstBodyByteAt: number | null;
  /** requests being answered right now, and the most at once since `resetPeak()` */
  inFlight: number;
  peakInFlight: number;
  resetPeak(): void;
  set(mode: UpstreamMode): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startUpstream(initial: UpstreamMode = { kind: "ok" }): Promise<Upstream> {
  const sockets = new Set<Socket>();
  let server: http.Server;
  const u: Upstream = {
    url: "",
    port: 0,
    mode: initial,
    hits: new Map(),
    totalHits: () => [...u.hits.values()].reduce((a, b) => a + b, 0),
    firstBodyByteAt: null,
    inFlight: 0,
    peakInFlight: 0,
    resetPeak() {
      u.peakInFlight = u.inFlight;
    },
    set(mode) {
      u.mode = mode;
    },
    async down() {
      await stop();
    },
    async up() {
      await listen(u.port);
    },
    async close() {
      await stop();
    },
  };

  const handler: http.RequestListener = (req, res) => {
    const path = req.url ?? "/";
    u.hits.set(path, (u.hits.get(path) ?? 0) + 1);
    u.inFlight++;
    u.peakInFlight = Math.max(u.peakInFlight, u.inFlight);
    res.on("close", () => u.inFlight--);
    const m = u.mode;
    switch (m.kind) {
      case "ok":
        res.writeHead(200, { "content-type": "text/plain" }).end("OK");
        return;
      case "slow":
        setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end("OK"), m.delayMs);
        return;
      case "status":
        res.writeHead(m.status, { "content-type": "text/plain", ...m.headers }).end(`status ${m.status}`);
        return;
      case "health": {
        const send = () =>
          res
            .writeHead(m.status ?? 200, { "content-type": "application/health+json" })
            .end(JSON.stringify({ status: m.healthStatus, ...(m.output ? { output: m.output } : {}) }));
        if (m.delayMs) setTimeout(send, m.delayMs);
        else send();
        return;
      }
      case "hang":
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "echo": {
        const hash = createHash("sha256");
        let bytes = 0;
        u.firstBodyByteAt = null;
        req.on("data", (chunk: Buffer) => {
          if (bytes === 0) u.firstBodyByteAt = performance.now();
          bytes += chunk.length;
          hash.update(chunk);
        });
        req.on("end", () => {
          res.writeHead(m.status ?? 200, { "content-type": "application/json" }).end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              headers: req.headers,
              bodyBytes: bytes,
              sha256: hash.digest("hex"),
              port: u.port,
            }),
          );
        });
        return;
      }
    }
  };

  function listen(port: number): Promise<void> {
    server = http.createServer(handler);
    server.on("connection", (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        u.port = (server.address() as AddressInfo).port;
        u.url = `http://127.0.0.1:${u.port}`;
        resolve();
      });
    });
  }

  function stop(): Promise<void> {
    for (const s of sockets) s.destroy();
    sockets.clear();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  await listen(0);
  return u;
}
