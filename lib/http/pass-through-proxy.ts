import http from "node:http";
import type { Duplex } from "node:stream";
import { HOP_BY_HOP, listedByConnection } from "./hop-by-hop";
import { problemBody, PROBLEM_CONTENT_TYPE } from "./problem";

/**
 * The data-plane process's way to everything that is not the data plane: pages, the JSON API,
 * NextAuth, server-sent events and (with `--dev`) the dev server's WebSocket go to the web process
 * unchanged — same method, path, Host and credentials, bodies and answers streamed both ways.
 * Only hop-by-hop headers are dropped, and the socket peer is appended to `X-Forwarded-For`, so
 * the web process (which trusts exactly this one hop more than the configured proxies) sees the
 * real client address and no client can forge it.
 *
 * When the web process does not answer, the caller gets `503 dependency_unavailable` with
 * `Retry-After`, never a hang; an answer cut mid-body is cut for the client too.
 */
export interface PassThrough {
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** `server.on("upgrade", p.upgrade)`: WebSocket and other upgrades, piped both ways. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

const RETRY_AFTER_S = 2;

export function passThroughProxy(target: URL, opts: { onError?: (err: Error) => void } = {}): PassThrough {
  // Idle sockets are let go after 30 s, well before the web server's 65 s keep-alive timeout: a
  // request never lands on a socket the other side is closing at that moment.
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: 256,
    maxFreeSockets: 32,
    scheduling: "lifo",
    timeout: 30_000,
  });
  const base = { protocol: target.protocol, hostname: target.hostname, port: target.port || 80, agent };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const upstream = http.request({
      ...base,
      method: req.method,
      path: req.url ?? "/",
      headers: forwardedRequestHeaders(req, false),
    });
    upstream.on("response", (up) => {
      res.writeHead(up.statusCode ?? 502, up.statusMessage, responseHeaders(up.rawHeaders));
      up.pipe(res);
      up.on("error", () => res.destroy());
      // An early answer (e.g. 413 before the body was read): stop sending the body on; what the
      // client still sends is this server's to drain or close (lib/http/early-answer.ts).
      up.on("end", () => req.unpipe(upstream));
    });
    upstream.on("error", (err) => {
      if (res.writableFinished) return; // the answer is complete; the rest of the body has nowhere to go
      if (res.headersSent) {
        res.destroy();
        return;
      }
      opts.onError?.(err);
      if (!req.complete) req.resume();
      res.writeHead(503, {
        "content-type": PROBLEM_CONTENT_TYPE,
        "cache-control": "no-store",
        "retry-after": String(RETRY_AFTER_S),
      });
      res.end(
        JSON.stringify(
          problemBody(503, "dependency_unavailable", "The web process is not answering; try again shortly.", {
            retryAfterSeconds: RETRY_AFTER_S,
          }),
        ),
      );
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    const upstream = http.request({
      ...base,
      agent: false,
      method: req.method,
      path: req.url ?? "/",
      headers: forwardedRequestHeaders(req, true),
    });
    upstream.on("upgrade", (up, upSocket, upHead) => {
      const lines = [`HTTP/1.1 ${up.statusCode ?? 101} ${up.statusMessage ?? "Switching Protocols"}`];
      for (let i = 0; i < up.rawHeaders.length; i += 2) lines.push(`${up.rawHeaders[i]}: ${up.rawHeaders[i + 1]}`);
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      upSocket.on("error", () => socket.destroy());
      socket.on("close", () => upSocket.destroy());
      upSocket.on("close", () => socket.destroy());
      upSocket.pipe(socket).pipe(upSocket);
    });
    upstream.on("response", (up) => {
      // The web process declined the upgrade: relay its answer and close.
      const lines = [`HTTP/1.1 ${up.statusCode ?? 502} ${up.statusMessage ?? ""}`, "connection: close"];
      const headers = responseHeaders(up.rawHeaders);
      for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      up.pipe(socket);
    });
    upstream.on("error", () => socket.destroy());
    upstream.end();
  };

  return { handle, upgrade, close: () => agent.destroy() };
}

/** The request's raw headers minus hop-by-hop ones (kept for an upgrade), plus our X-Forwarded-For hop. */
function forwardedRequestHeaders(req: http.IncomingMessage, upgrading: boolean): string[] {
  const raw = req.rawHeaders;
  let connection: string | undefined;
  let forwardedFor: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === "connection") connection = connection === undefined ? raw[i + 1] : `${connection}, ${raw[i + 1]}`;
    else if (lower === "x-forwarded-for") {
      forwardedFor = forwardedFor === undefined ? raw[i + 1] : `${forwardedFor}, ${raw[i + 1]}`;
    }
  }
  const listed = listedByConnection(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === "x-forwarded-for") continue;
    if (upgrading && (lower === "connection" || lower === "upgrade")) {
      out.push(raw[i]!, raw[i + 1]!);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) {
      // A chunked body stays chunked: Node re-frames it because no Content-Length is sent.
      continue;
    }
    out.push(raw[i]!, raw[i + 1]!);
  }
  const peer = req.socket.remoteAddress ?? "unknown";
  out.push("x-forwarded-for", forwardedFor ? `${forwardedFor}, ${peer}` : peer);
  return out;
}

function responseHeaders(raw: readonly string[]): string[] {
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === "connection") connection = raw[i + 1];
  const listed = listedByConnection(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
