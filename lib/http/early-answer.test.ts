import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { guardEarlyAnswer, withEarlyAnswerGuard, type LingerLimits } from "./early-answer";
import { agentRequest, rawUpload } from "./test-raw-client";

/** The guard on a bare node:http server: what a keep-alive client sees after an early answer. */
const MB = 1024 * 1024;
const servers: http.Server[] = [];
const agents: http.Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler, opts: { guard?: boolean; limits?: LingerLimits } = {}): Promise<string> {
  const listener: Handler = (req, res) => {
    if (req.url === "/next") {
      // the follow-up request: reads its body (if any) and answers 200
      req.resume();
      req.on("end", () => res.end("next ok"));
      return;
    }
    handler(req, res);
  };
  const server = http.createServer(opts.guard === false ? listener : withEarlyAnswerGuard(listener, opts.limits));
  server.keepAliveTimeout = 30_000;
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function keepAliveAgent(): http.Agent {
  const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(a);
  return a;
}

const problem = JSON.stringify({ type: "about:blank", title: "Too large", status: 413, code: "payload_too_large" });

/** Answers 413 at once, never touching the body (Node would drain it and keep the connection). */
const answerAtOnce: Handler = (_req, res) => {
  res.writeHead(413, { "content-type": "application/problem+json" });
  res.end(problem);
};

/** Reads 1 MB, then stops reading and answers 413 — what a capped body reader does. */
const readSomeThenAnswer: Handler = (req, res) => {
  let n = 0;
  const onData = (c: Buffer) => {
    n += c.length;
    if (n < MB) return;
    req.off("data", onData);
    req.pause();
    res.statusCode = 413;
    res.setHeader("content-type", "application/problem+json");
    res.end(problem);
  };
  req.on("data", onData);
};

describe("early answers on a node:http server (guardEarlyAnswer)", () => {
  it("a 413 before a 30 MB chunked body arrived carries Connection: close and the connection ends with a FIN, not a reset", async () => {
    const url = await serve(answerAtOnce);
    const r = await rawUpload(url, { path: "/claims", bodyBytes: 30 * MB });
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(r.timedOut).toBe(false);
    expect(r.sawFin).toBe(true);
    expect(r.error).toBeNull();
  });

  it("closes gracefully when the handler read part of the body and stopped (a paused reader)", async () => {
    const url = await serve(readSomeThenAnswer);
    const r = await rawUpload(url, { path: "/claims", bodyBytes: 30 * MB });
    expect(r).toMatchObject({ status: 413, timedOut: false, sawFin: true, error: null });
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ code: "payload_too_large" });
  });

  it("the next request of a keep-alive client succeeds after an early answer (paused reader, Content-Length body)", async () => {
    const url = await serve(readSomeThenAnswer);
    const agent = keepAliveAgent();
    const first = await agentRequest(url, agent, {
      method: "POST",
      path: "/claims",
      headers: { "content-length": String(30 * MB) },
      bodyBytes: 30 * MB,
      deadlineMs: 8_000,
    });
    expect(first.status).toBe(413);
    expect(first.headers.connection).toBe("close");
    expect(JSON.parse(first.body)).toMatchObject({ code: "payload_too_large" });
    const next = await agentRequest(url, agent, { path: "/next", deadlineMs: 8_000 });
    expect(next).toMatchObject({ status: 200, body: "next ok" });
    expect(next.localPort).not.toBe(first.localPort); // a new connection, as Connection: close asks
  });

  it("overrides a Connection: keep-alive the handler set", async () => {
    const url = await serve((_req, res) => {
      res.setHeader("Connection", "keep-alive");
      res.writeHead(401, ["Content-Type", "application/problem+json", "connection", "keep-alive"]);
      res.end("{}");
    });
    const r = await rawUpload(url, { path: "/x", bodyBytes: 4 * MB });
    expect(r).toMatchObject({ status: 401, timedOut: false, sawFin: true, error: null });
    expect(r.headers.connection).toBe("close");
  });

  it("keeps the connection alive when the body was read in full before answering", async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on("end", () => res.end("stored"));
    });
    const agent = keepAliveAgent();
    const first = await agentRequest(url, agent, { method: "POST", path: "/claims", bodyBytes: 2 * MB });
    expect(first).toMatchObject({ status: 200, body: "stored" });
    expect(first.headers.connection).toBe("keep-alive");
    const next = await agentRequest(url, agent, { path: "/next" });
    expect(next.status).toBe(200);
    expect(next.localPort).toBe(first.localPort);
  });

  it("leaves requests without a body alone (a 401 to a GET stays keep-alive)", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(401).end();
    });
    const agent = keepAliveAgent();
    const first = await agentRequest(url, agent, { path: "/x" });
    expect(first.status).toBe(401);
    expect(first.headers.connection).toBe("keep-alive");
    expect((await agentRequest(url, agent, { path: "/next" })).localPort).toBe(first.localPort);
  });

  it("stops lingering after its time limit when the client never stops sending", async () => {
    const url = await serve(answerAtOnce, { limits: { maxMs: 300, idleMs: 5_000, maxBytes: 1024 * MB } });
    const started = Date.now();
    // far more than can be sent in the limit: the server gives up and closes
    const r = await rawUpload(url, { path: "/x", bodyBytes: 20_000 * MB, deadlineMs: 10_000 });
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(413);
    expect(r.sent).toBeLessThan(20_000 * MB);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("stops lingering when the client goes quiet without closing", async () => {
    const url = await serve(answerAtOnce, { limits: { maxMs: 30_000, idleMs: 200, maxBytes: 1024 * MB } });
    const socket = await new Promise<net.Socket>((resolve) => {
      const s = net.connect(Number(new URL(url).port), "127.0.0.1", () => resolve(s));
    });
    const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now())));
    socket.on("error", () => {});
    socket.resume();
    const started = Date.now();
    // headers and a little of a large body, then silence
    socket.write(`POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${100 * MB}\r\n\r\n`);
    socket.write(Buffer.alloc(1000));
    expect((await closed) - started).toBeLessThan(5_000);
  });

  it("without the guard, a paused reader's keep-alive connection stalls (the bug it fixes)", async () => {
    const url = await serve(readSomeThenAnswer, { guard: false });
    const r = await rawUpload(url, { path: "/claims", bodyBytes: 30 * MB, deadlineMs: 1_500 });
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe("keep-alive");
    expect(r.timedOut).toBe(true);
  });

  it("guardEarlyAnswer can be called directly in a listener", async () => {
    const url = await serve(
      (req, res) => {
        guardEarlyAnswer(req, res);
        answerAtOnce(req, res);
      },
      { guard: false },
    );
    const r = await rawUpload(url, { path: "/x", bodyBytes: 8 * MB });
    expect(r).toMatchObject({ status: 413, sawFin: true, error: null, timedOut: false });
    expect(r.headers.connection).toBe("close");
  });
});
