import http from "node:http";
import net from "node:net";

/**
 * Tests only: HTTP/1.1 clients that show what happens to a connection after an early answer.
 * `rawUpload` speaks HTTP over a bare socket and keeps uploading after the answer (the worst case
 * for the server: a client that does not stop), recording whether the connection ended with a FIN
 * or a reset; `agentRequest` goes through a keep-alive `http.Agent`, like most API clients.
 */
export interface RawExchange {
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** the server closed its side cleanly (FIN) */
  sawFin: boolean;
  /** a socket error (ECONNRESET, EPIPE, …), if the connection was reset */
  error: string | null;
  /** the deadline passed with the connection still open (a stalled connection) */
  timedOut: boolean;
  /** body bytes the client managed to send */
  sent: number;
}

export interface UploadOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** bytes of body to send (zeros) */
  bodyBytes: number;
  /** chunked transfer encoding (default), else Content-Length */
  chunked?: boolean;
  /** give up after this long */
  deadlineMs?: number;
}

interface ParsedResponse {
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** bytes of `raw` this response took up (0: not complete yet) */
  length: number;
}

/** The first HTTP/1.1 response in `raw` (Content-Length or chunked body). */
function parseResponse(raw: Buffer): ParsedResponse {
  const text = raw.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end === -1) return { status: null, headers: {}, body: "", length: 0 };
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const status = Number(statusLine!.split(" ")[1]);
  const start = end + 4;
  let body = "";
  let length = 0;
  if (headers["transfer-encoding"] === "chunked") {
    let at = start;
    for (;;) {
      const nl = text.indexOf("\r\n", at);
      if (nl === -1) break;
      const size = parseInt(text.slice(at, nl), 16);
      if (size === 0) {
        length = nl + 4 <= text.length ? nl + 4 : 0;
        break;
      }
      body += text.slice(nl + 2, nl + 2 + size);
      at = nl + 2 + size + 2;
    }
  } else {
    const n = Number(headers["content-length"] ?? "0");
    body = text.slice(start, start + n);
    length = start + n <= text.length ? start + n : 0;
  }
  return { status, headers, body: Buffer.from(body, "latin1").toString("utf8"), length };
}

/** Uploads `bodyBytes` over a fresh socket, reading the answer meanwhile; resolves when the socket closes. */
export function rawUpload(baseUrl: string, o: UploadOptions): Promise<RawExchange> {
  const url = new URL(baseUrl);
  const chunked = o.chunked ?? true;
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port), allowHalfOpen: true });
    const received: Buffer[] = [];
    let sawFin = false;
    let error: string | null = null;
    let sent = 0;
    let finished = false;
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      socket.destroy();
      const { status, headers, body } = parseResponse(Buffer.concat(received));
      resolve({ status, headers, body, sawFin, error, timedOut, sent });
    };
    const deadline = setTimeout(() => finish(true), o.deadlineMs ?? 15_000);
    socket.on("data", (d: Buffer) => received.push(d));
    socket.on("end", () => {
      sawFin = true;
      // The answer is in; we are done sending too once the upload below stops.
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on("close", () => finish(false));
    const head = [`${o.method ?? "POST"} ${o.path} HTTP/1.1`, `Host: ${url.host}`];
    for (const [k, v] of Object.entries(o.headers ?? {})) head.push(`${k}: ${v}`);
    head.push(chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${o.bodyBytes}`);
    socket.write(`${head.join("\r\n")}\r\n\r\n`);
    const piece = Buffer.alloc(64 * 1024);
    const pump = () => {
      while (sent < o.bodyBytes && !socket.destroyed && socket.writable) {
        const n = Math.min(piece.length, o.bodyBytes - sent);
        const data = chunked
          ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from("\r\n")])
          : piece.subarray(0, n);
        sent += n;
        if (!socket.write(data)) {
          socket.once("drain", pump);
          return;
        }
      }
      if (sent >= o.bodyBytes && socket.writable) {
        if (chunked) socket.end("0\r\n\r\n");
        else socket.end();
      }
    };
    pump();
  });
}

export interface AgentExchange {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** the client's port: two requests with the same one shared a connection */
  localPort: number | undefined;
}

/**
 * One request through `agent`; a body of `bodyBytes` zeros is streamed (chunked unless a
 * Content-Length header is given), or `body` is sent as is. Rejects on a socket error or after
 * `deadlineMs` (a stalled connection).
 */
export function agentRequest(
  baseUrl: string,
  agent: http.Agent,
  o: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    bodyBytes?: number;
    deadlineMs?: number;
  },
): Promise<AgentExchange> {
  const url = new URL(o.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method ?? "GET", agent, headers: o.headers ?? {} });
    const deadline = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to ${o.method ?? "GET"} ${o.path} within ${o.deadlineMs ?? 15_000} ms`));
    }, o.deadlineMs ?? 15_000);
    req.on("error", (e) => {
      clearTimeout(deadline);
      reject(e);
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (e) => {
        clearTimeout(deadline);
        reject(e);
      });
      res.on("end", () => {
        clearTimeout(deadline);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          localPort: req.socket?.localPort,
        });
      });
    });
    if (o.body !== undefined) {
      req.end(o.body);
      return;
    }
    const total = o.bodyBytes ?? 0;
    if (total === 0) {
      req.end();
      return;
    }
    const piece = Buffer.alloc(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < total && !req.destroyed) {
        const n = Math.min(piece.length, total - sent);
        sent += n;
        if (!req.write(piece.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      if (sent >= total) req.end();
    };
    pump();
  });
}

/**
 * Sends `requests` (complete raw HTTP/1.1 requests) one after another on one connection, each
 * once the answer to the previous one is in, and returns the answers it got before the
 * connection closed or `deadlineMs` passed: two answers prove the connection was kept alive.
 */
export function rawSequence(
  baseUrl: string,
  requests: string[],
  deadlineMs = 10_000,
): Promise<{ status: number | null; headers: Record<string, string>; body: string }[]> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    const answers: { status: number | null; headers: Record<string, string>; body: string }[] = [];
    let buffered = Buffer.alloc(0);
    const done = () => {
      clearTimeout(deadline);
      socket.destroy();
      resolve(answers);
    };
    const deadline = setTimeout(done, deadlineMs);
    socket.on("error", () => {});
    socket.on("close", done);
    socket.on("data", (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      for (;;) {
        const r = parseResponse(buffered);
        if (r.length === 0) return;
        answers.push({ status: r.status, headers: r.headers, body: r.body });
        buffered = buffered.subarray(r.length);
        if (answers.length === requests.length) return done();
        socket.write(requests[answers.length]!);
      }
    });
    socket.write(requests[0]!);
  });
}
