import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as postToken } from "@/app/api/v1/auth/token/route";
import { startTestRouteServer, type TestRouteServer } from "@/lib/claims/test-route-server";
import { agentRequest, rawSequence, rawUpload } from "@/lib/http/test-raw-client";
import { createAgency } from "@/lib/testing/fixtures";
import { GET as getClaim } from "./[id]/route";
import { POST as postClaim } from "./route";

/**
 * ARCHITECTURE §7: an early answer to a request whose body was not read carries
 * `Connection: close`, and a keep-alive client's next request is never reset — through the real
 * intake route on a real node:http server (the one the tests share with scripts/testing/web-under-test.ts).
 */
const MB = 1024 * 1024;
let server: TestRouteServer;
let agency: Awaited<ReturnType<typeof createAgency>>;
const agents: http.Agent[] = [];

beforeAll(async () => {
  agency = await createAgency();
  server = await startTestRouteServer([
    { pattern: "/api/v1/auth/token", handlers: { POST: postToken } },
    { pattern: "/api/v1/claims", handlers: { POST: postClaim } },
    { pattern: "/api/v1/claims/[id]", handlers: { GET: getClaim } },
  ]);
});

afterAll(async () => {
  for (const a of agents) a.destroy();
  await server.close();
});

function keepAliveAgent(): http.Agent {
  const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(a);
  return a;
}

/** A request after the early answer, on the same agent: any answer at all proves no reset and no stall. */
async function nextRequestSucceeds(agent: http.Agent): Promise<void> {
  const next = await agentRequest(server.url, agent, {
    path: "/api/v1/claims/CLM-does-not-exist",
    headers: { authorization: `Bearer ${agency.veteran.token}` },
    deadlineMs: 10_000,
  });
  expect(next.status).toBe(404);
  expect(JSON.parse(next.body)).toMatchObject({ status: 404 });
}

describe("early answers to POST /api/v1/claims close the connection cleanly", () => {
  it("413 to a 30 MB chunked upload: Connection: close, the whole problem+json is read, and the next request succeeds", async () => {
    const agent = keepAliveAgent();
    const r = await agentRequest(server.url, agent, {
      method: "POST",
      path: "/api/v1/claims",
      headers: { authorization: `Bearer ${agency.veteran.token}`, "content-type": "application/pdf" },
      bodyBytes: 30 * MB,
      deadlineMs: 20_000,
    });
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe("close");
    expect(r.headers["content-type"]).toContain("application/problem+json");
    expect(JSON.parse(r.body)).toMatchObject({ status: 413, code: "payload_too_large" });
    await nextRequestSucceeds(agent);
  });

  it("413 to a 30 MB chunked upload over a bare socket ends with a FIN, never a reset", async () => {
    const r = await rawUpload(server.url, {
      path: "/api/v1/claims",
      headers: { authorization: `Bearer ${agency.veteran.token}`, "content-type": "application/pdf" },
      bodyBytes: 30 * MB,
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

  it("413 to a declared 30 MB Content-Length (refused before reading): Connection: close, next request succeeds", async () => {
    const agent = keepAliveAgent();
    const r = await agentRequest(server.url, agent, {
      method: "POST",
      path: "/api/v1/claims",
      headers: {
        authorization: `Bearer ${agency.veteran.token}`,
        "content-type": "application/pdf",
        "content-length": String(30 * MB),
      },
      bodyBytes: 30 * MB,
      deadlineMs: 20_000,
    });
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ code: "payload_too_large" });
    await nextRequestSucceeds(agent);
  });

  it("401 to an unauthenticated large upload: Connection: close, next request succeeds", async () => {
    const agent = keepAliveAgent();
    const r = await agentRequest(server.url, agent, {
      method: "POST",
      path: "/api/v1/claims",
      headers: { "content-type": "application/pdf" },
      bodyBytes: 30 * MB,
      deadlineMs: 20_000,
    });
    expect(r.status).toBe(401);
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ status: 401, code: "token_missing" });
    await nextRequestSucceeds(agent);
  });

  it("415 to a large upload with the wrong content type: Connection: close, next request succeeds", async () => {
    const agent = keepAliveAgent();
    const r = await agentRequest(server.url, agent, {
      method: "POST",
      path: "/api/v1/claims",
      headers: { authorization: `Bearer ${agency.veteran.token}`, "content-type": "image/png" },
      bodyBytes: 30 * MB,
      deadlineMs: 20_000,
    });
    expect(r.status).toBe(415);
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toMatchObject({ status: 415, code: "unsupported_media_type" });
    await nextRequestSucceeds(agent);
  });

  it("a request whose body was read in full keeps the connection alive", async () => {
    const signIn = JSON.stringify({ username: agency.veteran.username, password: agency.veteran.password });
    const host = new URL(server.url).host;
    // Two requests on one connection, the second sent after the first answer: both answered.
    const answers = await rawSequence(server.url, [
      `POST /api/v1/auth/token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(signIn)}\r\n\r\n${signIn}`,
      `GET /api/v1/claims/CLM-does-not-exist HTTP/1.1\r\nHost: ${host}\r\n` +
        `Authorization: Bearer ${agency.veteran.token}\r\n\r\n`,
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 404]);
    expect(answers[0]!.headers.connection).toBe("keep-alive");
    expect(JSON.parse(answers[0]!.body)).toHaveProperty("access_token");
  });
});
