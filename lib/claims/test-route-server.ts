import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { guardEarlyAnswer } from "../http/early-answer";

/**
 * Tests only: serves Next.js route handlers over real HTTP on 127.0.0.1 (no framework), so
 * streams, disconnects and other processes can be exercised the way a browser or a consumer
 * sees them. Each route is a path pattern with `[param]` segments and the module's handlers.
 */
type Handler = (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

export interface TestRoute {
  pattern: string;
  handlers: Partial<Record<"GET" | "POST" | "PUT" | "PATCH" | "DELETE", Handler>>;
}

export interface TestRouteServer {
  url: string;
  /** requests whose handler is still running or whose response is still streaming */
  open(): number;
  close(): Promise<void>;
}

function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/");
  const s = path.split("/");
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    const got = s[i]!;
    const m = /^\[(\w+)\]$/.exec(seg);
    if (m) {
      if (!got) return null;
      params[m[1]!] = decodeURIComponent(got);
    } else if (seg !== got) return null;
  }
  return params;
}

/**
 * `first`, when given, sees every request before the routes and returns true when it answered it
 * (e.g. the queue data plane's `handleQueueRequest`, as scripts/web-server.ts wires it).
 */
export async function startTestRouteServer(
  routes: TestRoute[],
  first?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>,
): Promise<TestRouteServer> {
  let open = 0;
  const server = http.createServer(async (req, res) => {
    guardEarlyAnswer(req, res); // as scripts/web-server.ts does: early answers close cleanly
    open++;
    res.on("close", () => open--);
    if (first && (await first(req, res))) return;
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    // Static segments win over [param] ones, as in Next.js: try the most specific pattern first.
    const ordered = [...routes].sort(
      (a, b) => (a.pattern.match(/\[/g)?.length ?? 0) - (b.pattern.match(/\[/g)?.length ?? 0),
    );
    let handler: Handler | undefined;
    let params: Record<string, string> = {};
    for (const r of ordered) {
      const m = match(r.pattern, url.pathname);
      if (!m) continue;
      handler = r.handlers[(req.method ?? "GET") as keyof TestRoute["handlers"]];
      params = m;
      break;
    }
    if (!handler) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"code":"not_found"}');
      return;
    }
    const ac = new AbortController();
    // Like Next.js: the request's signal aborts when the client goes away, not after a finished answer.
    res.on("close", () => {
      if (!res.writableFinished) ac.abort();
    });
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string") headers.set(k, v);
      else if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const init: RequestInit & { duplex?: "half" } = {
      method: req.method,
      headers,
      signal: ac.signal,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
    };
    if (hasBody) init.duplex = "half";
    const request = new Request(url, init);
    void (async () => {
      try {
        const response = await handler(request, { params: Promise.resolve(params) });
        const out: Record<string, string> = {};
        response.headers.forEach((v, k) => (out[k] = v));
        res.writeHead(response.status, out);
        res.flushHeaders();
        if (!response.body) {
          res.end();
          return;
        }
        const reader = response.body.getReader();
        res.on("close", () => void reader.cancel().catch(() => {}));
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          res.write(value);
        }
        res.end();
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(err));
      }
    })();
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    open: () => open,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
