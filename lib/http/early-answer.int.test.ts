import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestServiceToken } from "../claims/test-claims";
import { startTestRouteServer, type TestRouteServer } from "../claims/test-route-server";
import { startTestGateway } from "../gateway/test-gateway";
import { handleQueueRequest } from "../queue/queue-http";
import { stopQueueWakeups } from "../queue/queue-wakeups";
import { createAgency } from "../testing/fixtures";
import { agentRequest, rawUpload } from "./test-raw-client";

/**
 * ARCHITECTURE §7: early answers of the data planes — the gateway and the queue calls, both
 * plain node:http — carry `Connection: close` and never reset a keep-alive client's connection.
 * (Claim intake: app/api/v1/claims/early-answer.int.test.ts.)
 */
const MB = 1024 * 1024;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let queues: TestRouteServer;
let agency: Awaited<ReturnType<typeof createAgency>>;
const agents: http.Agent[] = [];

beforeAll(async () => {
  agency = await createAgency();
  gw = await startTestGateway();
  queues = await startTestRouteServer([], handleQueueRequest);
});

afterAll(async () => {
  for (const a of agents) a.destroy();
  await gw.close();
  await queues.close();
  await stopQueueWakeups();
});

function keepAliveAgent(): http.Agent {
  const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(a);
  return a;
}

describe("gateway early answers", () => {
  it("401 to an unauthenticated 30 MB upload: Connection: close, problem+json read in full, next request succeeds", async () => {
    const agent = keepAliveAgent();
    const r = await agentRequest(gw.url, agent, {
      method: "POST",
      path: "/api/v1/gw/x/y",
      bodyBytes: 30 * MB,
      deadlineMs: 20_000,
    });
    expect(r.status).toBe(401);
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ status: 401, code: "token_missing" });
    const next = await agentRequest(gw.url, agent, { path: "/api/v1/gw/x/y", deadlineMs: 10_000 });
    expect(next.status).toBe(401);
    expect(next.localPort).not.toBe(r.localPort);
  });

  it("404 for an unknown service to a 30 MB upload over a bare socket ends with a FIN, never a reset", async () => {
    const r = await rawUpload(gw.url, {
      path: "/api/v1/gw/no-such-service/y",
      headers: { authorization: `Bearer ${agency.operator.token}` },
      bodyBytes: 30 * MB,
      deadlineMs: 20_000,
    });
    expect(r.status).toBe(404);
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ code: "not_found" });
    expect({ timedOut: r.timedOut, sawFin: r.sawFin, error: r.error }).toEqual({
      timedOut: false,
      sawFin: true,
      error: null,
    });
  });

  it("a refusal without a body keeps the connection alive", async () => {
    const agent = keepAliveAgent();
    const a = await agentRequest(gw.url, agent, { path: "/api/v1/gw/x/y" });
    expect(a.status).toBe(401);
    expect(a.headers.connection).toBe("keep-alive");
    const b = await agentRequest(gw.url, agent, { path: "/api/v1/gw/x/y" });
    expect(b.localPort).toBe(a.localPort);
  });
});

describe("queue data plane early answers", () => {
  it("413 to a chunked send over the body cap: Connection: close, and the connection ends with a FIN", async () => {
    const token = await createTestServiceToken(agency.tenantId);
    const r = await rawUpload(queues.url, {
      path: "/api/v1/queues/claim-review/messages",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      bodyBytes: 8 * MB,
      deadlineMs: 20_000,
    });
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ code: "payload_too_large" });
    expect({ timedOut: r.timedOut, sawFin: r.sawFin, error: r.error }).toEqual({
      timedOut: false,
      sawFin: true,
      error: null,
    });
  });

  it("401 to a send with a malformed token and a large body: Connection: close, next request succeeds", async () => {
    const agent = keepAliveAgent();
    const r = await agentRequest(queues.url, agent, {
      method: "POST",
      path: "/api/v1/queues/claim-review/messages",
      headers: { authorization: "Bearer", "content-type": "application/json" },
      bodyBytes: 8 * MB,
      deadlineMs: 20_000,
    });
    expect(r.status).toBe(401);
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ code: "token_malformed" });
    const next = await agentRequest(queues.url, agent, {
      method: "POST",
      path: "/api/v1/queues/claim-review/messages",
      headers: { authorization: "Bearer", "content-type": "application/json" },
      body: "{}",
      deadlineMs: 10_000,
    });
    expect(next.status).toBe(401);
  });
});
