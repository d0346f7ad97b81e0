import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openClaimEventStream } from "@/lib/claims/claim-event-stream";
import { claimEventsHub, stopClaimEventsHub } from "@/lib/claims/claim-events-hub";
import { createTestClaim } from "@/lib/claims/test-claims";
import { startTestRouteServer, type TestRouteServer } from "@/lib/claims/test-route-server";
import { systemPool } from "@/lib/db/pool";
import { createAgency, createUser } from "@/lib/testing/fixtures";
import { POST as postStatus } from "../status/route";
import { GET } from "./route";

/**
 * The live timeline over real HTTP (node:http around the route handlers): what an EventSource in
 * the veteran's browser receives.
 */
let server: TestRouteServer;
let a: Awaited<ReturnType<typeof createAgency>>;
let b: Awaited<ReturnType<typeof createAgency>>;

beforeAll(async () => {
  a = await createAgency();
  b = await createAgency();
  server = await startTestRouteServer([
    { pattern: "/api/v1/claims/[id]/events", handlers: { GET } },
    { pattern: "/api/v1/claims/[id]/status", handlers: { POST: postStatus } },
  ]);
});

afterAll(async () => {
  await server.close();
  await stopClaimEventsHub();
});

interface SseEvent {
  event: string;
  id: string | null;
  data: unknown;
  at: number;
}

/** A minimal EventSource over fetch: collects events and comment lines as they arrive. */
function subscribe(claimId: string, token: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters: (() => void)[] = [];
  const res = fetch(`${server.url}/api/v1/claims/${claimId}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream", ...headers },
    signal: ac.signal,
  });
  const done = res.then(async (r) => {
    if (!r.ok || !r.body) return;
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = "message";
          let id: string | null = null;
          let data: string | null = null;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments.push(line);
            else if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("id: ")) id = line.slice(4);
            else if (line.startsWith("data: ")) data = line.slice(6);
          }
          if (data !== null) events.push({ event, id, data: JSON.parse(data), at: Date.now() });
          for (const w of waiters.splice(0)) w();
        }
      }
    } catch {
      /* aborted */
    }
  });
  return {
    res,
    events,
    comments,
    close: () => ac.abort(),
    done,
    async waitFor(n: number, ms = 3_000): Promise<SseEvent[]> {
      const deadline = Date.now() + ms;
      while (events.length < n && Date.now() < deadline) {
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return events;
    },
  };
}

async function move(token: string, id: string, status: string) {
  const r = await fetch(`${server.url}/api/v1/claims/${id}/status`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ status }),
  });
  expect(r.status).toBe(200);
  return Date.now();
}

async function eventIds(id: string): Promise<string[]> {
  // ORDER BY the column, not the text alias: "100" sorts before "99" as text.
  const { rows } = await systemPool().query<{ id: string }>(
    `SELECT id::text AS id FROM claim_events WHERE claim_id = $1 ORDER BY claim_events.id`,
    [id],
  );
  return rows.map((r) => r.id);
}

describe("GET /api/v1/claims/<id>/events", () => {
  it("sends the owner the claim and its timeline, then each status change within a second of it", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const s = subscribe(id, a.veteran.token);
    const res = await s.res;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("cache-control")).toContain("no-cache");
    expect(res.headers.get("x-accel-buffering")).toBe("no");

    const [snap] = await s.waitFor(1);
    const [queuedId] = await eventIds(id);
    expect(snap).toMatchObject({ event: "snapshot", id: queuedId });
    expect(snap!.data).toMatchObject({
      claim_id: id,
      status: "QUEUED",
      tenant: a.tenantId,
      veteran: a.veteran.username,
      document: { url: `/api/v1/claims/${id}/document`, pageCount: 1 },
      timeline: [{ id: queuedId, status: "QUEUED", note: "test claim", actor: "test" }],
    });

    const movedAt = await move(a.operator.token, id, "IN_REVIEW");
    const after = await s.waitFor(2);
    const change = after[1]!;
    expect(change.event).toBe("status");
    expect(change.data).toMatchObject({ claim_id: id, status: "IN_REVIEW", actor: a.operator.username });
    expect(change.at - movedAt).toBeLessThan(1_000);

    await move(a.operator.token, id, "DECIDED");
    await s.waitFor(3);
    const ids = await eventIds(id);
    expect(s.events.map((e) => [e.event, e.id])).toEqual([
      ["snapshot", ids[0]],
      ["status", ids[1]],
      ["status", ids[2]],
    ]);
    s.close();
  });

  it("streams the tenant's claims to its operator, and refuses everyone else with 404 before any event", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const op = subscribe(id, a.operator.token);
    expect((await op.res).status).toBe(200);
    expect((await op.waitFor(1))[0]!.event).toBe("snapshot");
    op.close();

    const neighbour = await createUser("veteran", a.tenantId);
    for (const token of [b.operator.token, b.veteran.token, neighbour.token]) {
      const r = await fetch(`${server.url}/api/v1/claims/${id}/events`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(r.status).toBe(404);
      expect(r.headers.get("content-type")).toBe("application/problem+json");
      expect(await r.json()).toMatchObject({ code: "not_found" });
    }
    const missing = await fetch(`${server.url}/api/v1/claims/CLM-987654321987/events`, {
      headers: { authorization: `Bearer ${a.operator.token}` },
    });
    expect(missing.status).toBe(404);
    const anonymous = await fetch(`${server.url}/api/v1/claims/${id}/events`);
    expect(anonymous.status).toBe(401);
    // A refused stream leaves no subscription behind.
    await new Promise((r) => setTimeout(r, 100));
    expect(claimEventsHub().subscriberCount).toBe(0);
  });

  it("resumes after Last-Event-ID with exactly the changes missed, and no snapshot", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const [queuedId] = await eventIds(id);
    await move(a.operator.token, id, "IN_REVIEW");
    await move(a.operator.token, id, "NEEDS_INFO");
    const s = subscribe(id, a.veteran.token, { "last-event-id": queuedId! });
    await s.waitFor(2);
    const ids = await eventIds(id);
    expect(s.events.map((e) => [e.event, e.id, (e.data as { status: string }).status])).toEqual([
      ["status", ids[1], "IN_REVIEW"],
      ["status", ids[2], "NEEDS_INFO"],
    ]);
    // …and keeps going live after the replay.
    await move(a.operator.token, id, "IN_REVIEW");
    await s.waitFor(3);
    expect(s.events[2]).toMatchObject({ event: "status", id: (await eventIds(id))[3] });
    s.close();

    const upToDate = subscribe(id, a.veteran.token, { "last-event-id": (await eventIds(id)).at(-1)! });
    expect((await upToDate.res).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(upToDate.events).toEqual([]);
    upToDate.close();

    // An id from the future does not silence the stream: the next change still arrives.
    const future = subscribe(id, a.veteran.token, { "last-event-id": "999999999999" });
    expect((await future.res).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    await move(a.operator.token, id, "DECIDED");
    await future.waitFor(1);
    expect(future.events[0]).toMatchObject({ event: "status", id: (await eventIds(id)).at(-1) });
    future.close();
  });

  it("ends the subscription when the client goes away", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const before = claimEventsHub().subscriberCount;
    const s = subscribe(id, a.veteran.token);
    await s.waitFor(1);
    expect(claimEventsHub().subscriberCount).toBe(before + 1);
    s.close();
    const deadline = Date.now() + 2_000;
    while (claimEventsHub().subscriberCount > before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(claimEventsHub().subscriberCount).toBe(before);
  });

  it("sends a comment heartbeat while nothing happens", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const ac = new AbortController();
    const res = await openClaimEventStream({
      principal: a.veteran,
      claimId: id,
      meta: { requestId: "t", traceId: "t", ip: null },
      signal: ac.signal,
      heartbeatMs: 100,
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const until = Date.now() + 2_000;
    while (!/: keep-alive .*\n\n: keep-alive /s.test(text) && Date.now() < until)
      text += (await reader.read()).value ?? "";
    expect(text.startsWith("retry: ")).toBe(true);
    expect(text.match(/^: keep-alive /gm)?.length).toBeGreaterThanOrEqual(2);
    ac.abort();
    expect((await reader.read()).done).toBe(true);
  });

  it("catches up on changes made while its LISTEN connection was down", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const s = subscribe(id, a.veteran.token);
    await s.waitFor(1);
    // Drop the hub's connection (as a PostgreSQL restart would), and change the claim meanwhile.
    const killed = await systemPool().query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hms-claim-events'`,
    );
    expect(killed.rowCount).toBeGreaterThan(0);
    await move(a.operator.token, id, "IN_REVIEW");
    await s.waitFor(2, 5_000);
    expect(s.events.map((e) => e.event)).toEqual(["snapshot", "status"]);
    expect(claimEventsHub().listening).toBe(true);
    s.close();
  });

  it("never carries another claim's changes, even when a notification names this claim falsely", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const s = subscribe(id, a.veteran.token);
    await s.waitFor(1);
    // A forged notification only wakes the stream; it re-reads and finds nothing new.
    await systemPool().query(`SELECT pg_notify('hms_claims', $1)`, [
      JSON.stringify({ tenant: b.tenantId, claimId: id, status: "DECIDED", at: new Date().toISOString() }),
    ]);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.events.map((e) => e.event)).toEqual(["snapshot"]);
    s.close();
  });
});
