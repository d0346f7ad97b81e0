import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Caller } from "../auth/principal";
import { isServiceToken, verifyServiceToken } from "../auth/service-tokens";
import { TokenCache } from "../gateway/token-cache";
import { AppError } from "../http/app-error";
import { PROBLEM_CONTENT_TYPE, toProblem } from "../http/problem";
import { ackFromCaller, leaseFromCaller, nackFromCaller, sendFromCaller } from "./queue-api";
import { bodyTooLarge, MAX_BODY_BYTES, parseJsonText } from "./queue-schema";

/**
 * The queue data plane on raw node:http (decision 019, like the gateway's in decision 015): the
 * four calls consumers make in a loop — send, lease, ack, nack — without Next.js's request
 * pipeline, which alone costs several times what a queue call does. `scripts/web-server.ts`
 * offers every request to `handleQueueRequest` first; it answers the four POST paths and returns
 * false for everything else (the operator endpoints, other methods, calls without an
 * Authorization header, i.e. browser sessions), which Next.js serves. The
 * Next.js route files for the same four paths call the same functions (queue-api.ts), so both
 * entrances behave alike.
 */
export const QUEUES_PREFIX = "/api/v1/queues/";

type Action = "send" | "lease" | "ack" | "nack";
interface Route {
  action: Action;
  queue: string;
  id: string | null;
}

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** The data-plane route of a method and URL, or null when it is not one. */
export function matchQueueRoute(method: string | undefined, url: string | undefined): Route | null {
  if (method !== "POST" || !url || !url.startsWith(QUEUES_PREFIX)) return null;
  const q = url.indexOf("?");
  const parts = (q === -1 ? url : url.slice(0, q)).slice(QUEUES_PREFIX.length).split("/");
  const queue = decode(parts[0] ?? "");
  if (!queue || parts[1] === undefined) return null;
  if (parts.length === 2 && parts[1] === "messages") return { action: "send", queue, id: null };
  if (parts.length === 2 && parts[1] === "lease") return { action: "lease", queue, id: null };
  if (parts.length === 4 && parts[1] === "messages" && (parts[3] === "ack" || parts[3] === "nack")) {
    const id = decode(parts[2] ?? "");
    if (!id) return null;
    return { action: parts[3], queue, id };
  }
  return null;
}

const g = globalThis as unknown as { hmsQueueTokenCache?: TokenCache };

async function callerOf(req: IncomingMessage, header: string): Promise<Caller> {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m) throw new AppError("token_malformed", "The Authorization header must be `Bearer <token>`.");
  const token = m[1]!;
  if (isServiceToken(token)) return verifyServiceToken(token);
  g.hmsQueueTokenCache ??= new TokenCache();
  return g.hmsQueueTokenCache.verify(token); // a user's JWT (the gateway's cache answers `kind: "user"`)
}

function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? "");
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Promise.reject(bodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        over = true;
        reject(bodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!over) resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"));
    });
    req.on("error", (err) =>
      reject(new AppError("body_incomplete", "The request body did not arrive.", { cause: err })),
    );
  });
}

// Request ids for answers (and the log of a 500): a random process prefix and a counter — unique,
// and without a call into the CSPRNG on every request.
const ID_PREFIX = randomBytes(6).toString("hex");
let idCounter = 0;

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  if (typeof given === "string" && /^[\w.-]{1,128}$/.test(given)) return given;
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}${idCounter.toString(16).padStart(8, "0")}`;
}

function send(res: ServerResponse, status: number, requestId: string, body?: unknown): void {
  if (res.headersSent || res.destroyed) return;
  if (body === undefined) {
    res.writeHead(status, { "cache-control": "no-store", "x-request-id": requestId });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text),
    "x-request-id": requestId,
  });
  res.end(text);
}

function fail(res: ServerResponse, err: unknown, requestId: string): void {
  if (res.headersSent || res.destroyed) return;
  const { body, headers } = toProblem(err, requestId);
  const text = JSON.stringify(body);
  const h: Record<string, string | number> = {
    ...headers,
    "content-type": PROBLEM_CONTENT_TYPE,
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text),
    "x-request-id": requestId,
  };
  // A refused body may still be arriving: the server's early-answer guard (lib/http/early-answer.ts)
  // adds `Connection: close` and closes without a reset once this answer is out.
  res.writeHead(body.status, h);
  res.end(text);
}

/**
 * Serves `POST /api/v1/queues/<queue>/messages`, `…/lease`, `…/messages/<id>/ack` and `…/nack`.
 * Returns false (and touches nothing) for any other request. Never throws.
 */
export async function handleQueueRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const route = matchQueueRoute(req.method, req.url);
  // No Authorization header: a browser session or no credentials at all — Next.js's route (same
  // logic, queue-api.ts) answers, with the session cookie and Origin checks that live there.
  const header = req.headers.authorization;
  if (!route || header === undefined) return false;
  const requestId = requestIdOf(req);
  try {
    const caller = await callerOf(req, header);
    const text = await readBody(req);
    switch (route.action) {
      case "send":
        send(res, 201, requestId, await sendFromCaller(caller, route.queue, parseJsonText(text)));
        break;
      case "lease": {
        const ac = new AbortController();
        const onClose = () => {
          if (!res.writableEnded) ac.abort();
        };
        res.once("close", onClose);
        try {
          send(res, 200, requestId, await leaseFromCaller(caller, route.queue, parseJsonText(text), ac.signal));
        } finally {
          res.off("close", onClose);
        }
        break;
      }
      case "ack":
        await ackFromCaller(caller, route.queue, route.id!);
        send(res, 204, requestId);
        break;
      case "nack":
        await nackFromCaller(caller, route.queue, route.id!, parseJsonText(text));
        send(res, 204, requestId);
        break;
    }
  } catch (err) {
    fail(res, err, requestId);
  }
  return true;
}
