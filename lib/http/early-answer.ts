import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * Early answers on a keep-alive connection (ARCHITECTURE §7 Gateway): a 401, 403, 413, 415, 429, …
 * sent before the request body has arrived in full carries `Connection: close`, and the connection
 * is then closed the way nginx's `lingering_close` does it — never with a reset.
 *
 * Why it takes more than the header. Node answers `Connection: close` with `socket.destroySoon()`:
 * FIN after the answer, then close(2) while the client is still sending. Closing a socket with
 * unread bytes makes the kernel send RST, and an RST can reach the client before it has read the
 * answer (ECONNRESET instead of the 413). Without `Connection: close` it is worse: a body reader
 * that stopped reading (a web stream no longer pulled, `req.pause()`, an unpipe) leaves the request
 * paused, Node does not drain a request somebody started to consume, so the connection stalls with
 * the client's bytes unread until a timeout destroys it — and the client's next request on that
 * keep-alive connection fails with ECONNRESET.
 *
 * So, for a request that declares a body (Content-Length > 0 or Transfer-Encoding) which is not
 * complete when the response head is written:
 * 1. the head gets `Connection: close` (whatever a handler set), so the client opens a new
 *    connection for its next request;
 * 2. after the answer is written: half-close (FIN), discard whatever the client still sends, and
 *    destroy the socket once the client closes its side — or after a bounded time, idle time or
 *    byte count (`LingerLimits`), so a client that never stops costs little.
 *
 * Call `guardEarlyAnswer(req, res)` first thing in a node:http server's request listener, or wrap
 * the listener with `withEarlyAnswerGuard`. Requests without a body, and bodies read in full before
 * answering, are untouched (keep-alive as usual). Body readers must not `destroy()` the request to
 * stop an upload (that resets the connection before the answer is out): stop reading, answer, and
 * let this guard close.
 */
export interface LingerLimits {
  /** longest time a closing connection keeps reading, in all */
  maxMs: number;
  /** give up when the client has sent nothing for this long */
  idleMs: number;
  /** give up after discarding this many bytes */
  maxBytes: number;
}

export const DEFAULT_LINGER_LIMITS: Readonly<LingerLimits> = Object.freeze({
  maxMs: 10_000,
  idleMs: 2_000,
  maxBytes: 128 * 1024 * 1024,
});

type WriteHead = (this: ServerResponse, statusCode: number, ...rest: unknown[]) => ServerResponse;
type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** Sockets already closing gracefully (several responses can end on one pipelined socket). */
const lingering = new WeakSet<Socket>();

/** Whether the request announces a body: `Transfer-Encoding`, or a Content-Length other than 0. */
export function declaresBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const cl = req.headers["content-length"];
  return cl !== undefined && cl.trim() !== "0";
}

/** Installs the early-answer rule on one request/response pair (cheap no-op without a body). */
export function guardEarlyAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  limits: LingerLimits = DEFAULT_LINGER_LIMITS,
): void {
  if (!declaresBody(req) || req.complete) return;
  // Every way to send the head goes through writeHead: explicit calls, and the implicit one of
  // write()/end()/flushHeaders() (the `on-headers` technique).
  const original = res.writeHead as unknown as WriteHead;
  const patched: WriteHead = function (this: ServerResponse, statusCode, ...rest) {
    res.writeHead = original as unknown as ServerResponse["writeHead"];
    if (req.complete || this.headersSent) return original.call(this, statusCode, ...rest);
    closeAfterAnswer(req, this, limits);
    return original.call(this, statusCode, ...withConnectionClose(this, rest));
  };
  res.writeHead = patched as unknown as ServerResponse["writeHead"];
}

/** `http.createServer(withEarlyAnswerGuard((req, res) => …))`. */
export function withEarlyAnswerGuard<L extends Listener>(listener: L, limits?: LingerLimits): L {
  const guarded = (req: IncomingMessage, res: ServerResponse) => {
    guardEarlyAnswer(req, res, limits);
    listener(req, res);
  };
  return guarded as L;
}

function isConnection(name: unknown): boolean {
  return typeof name === "string" && name.toLowerCase() === "connection";
}

/**
 * writeHead's `(statusMessage?, headers?)` with any Connection header replaced by `close`.
 * A header set earlier with setHeader is overwritten there; the argument list stays in the form it
 * came (object or raw list), so Node merges it exactly as it would have.
 */
function withConnectionClose(res: ServerResponse, rest: unknown[]): unknown[] {
  if (res.hasHeader("connection")) res.setHeader("connection", "close");
  const hasMessage = typeof rest[0] === "string";
  const message = hasMessage ? [rest[0]] : [];
  const headers = hasMessage ? rest[1] : rest[0];
  if (Array.isArray(headers)) {
    const list = headers as OutgoingHttpHeader[] | [string, OutgoingHttpHeader][];
    if (list.length > 0 && Array.isArray(list[0])) {
      const pairs = (list as [string, OutgoingHttpHeader][]).filter(([k]) => !isConnection(k));
      return [...message, [...pairs, ["Connection", "close"]]];
    }
    const flat: OutgoingHttpHeader[] = [];
    for (let i = 0; i + 1 < list.length; i += 2) {
      if (!isConnection(list[i])) flat.push(list[i] as OutgoingHttpHeader, list[i + 1] as OutgoingHttpHeader);
    }
    flat.push("Connection", "close");
    return [...message, flat];
  }
  const out: OutgoingHttpHeaders = {};
  if (headers && typeof headers === "object") {
    for (const [k, v] of Object.entries(headers as OutgoingHttpHeaders)) if (!isConnection(k)) out[k] = v;
  }
  out.Connection = "close";
  return [...message, out];
}

/**
 * Node's server calls `socket.destroySoon()` after a `Connection: close` answer (end, then destroy
 * as soon as our FIN is out). On this socket it only ends; `lingeringClose` does the rest when the
 * answer is finished (also if a Node version took another path to close).
 */
function closeAfterAnswer(req: IncomingMessage, res: ServerResponse, limits: LingerLimits): void {
  const socket = req.socket;
  if (!socket || socket.destroyed) return;
  socket.destroySoon = function (this: Socket) {
    if (this.writable) this.end();
  };
  res.once("finish", () => lingeringClose(socket, req, limits));
}

function lingeringClose(socket: Socket, req: IncomingMessage, limits: LingerLimits): void {
  if (socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  discardBody(req);
  if (socket.writable) socket.end(); // FIN once the answer is flushed
  const startedAt = Date.now();
  const startBytes = socket.bytesRead;
  let lastBytes = startBytes;
  let lastAt = startedAt;
  const stop = () => {
    clearInterval(timer);
    socket.destroy(); // the client closed its side (nothing unread: FIN, no RST) or a limit was reached
  };
  const timer = setInterval(
    () => {
      const now = Date.now();
      const read = socket.bytesRead;
      if (read !== lastBytes) {
        lastBytes = read;
        lastAt = now;
      }
      if (now - startedAt >= limits.maxMs || now - lastAt >= limits.idleMs || read - startBytes >= limits.maxBytes) {
        stop();
      }
    },
    Math.max(10, Math.min(100, limits.idleMs / 4)),
  );
  timer.unref();
  if (socket.readableEnded) return stop(); // the client had closed its side already
  socket.once("end", stop);
  socket.once("close", () => clearInterval(timer));
  // A reader that stopped mid-body left the socket paused (backpressure): read again.
  socket.resume();
}

/**
 * Drops the rest of the body without handing it to anyone. Node's own `_dump()` (what its server
 * does for a body nobody touched) makes the parser discard body bytes even while a paused reader
 * still holds the request; the public fallback drains through 'data'.
 */
function discardBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  const dump = (req as IncomingMessage & { _dump?: () => void })._dump;
  if (typeof dump === "function") {
    dump.call(req);
    return;
  }
  req.removeAllListeners("data");
  req.resume();
}
