import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClaim, createTestServiceToken } from "@/lib/claims/test-claims";
import { startTestRouteServer, type TestRouteServer } from "@/lib/claims/test-route-server";
import { systemPool } from "@/lib/db/pool";
import { runClaimReviewConsumer, type ReviewOutcome } from "@/lib/demo-fleet/claim-review-consumer";
import { handleQueueRequest } from "@/lib/queue/queue-http";
import { stopQueueWakeups } from "@/lib/queue/queue-wakeups";
import { createAgency } from "@/lib/testing/fixtures";
import { POST as postStatus } from "./route";
import { untilValue } from "@/lib/testing/poll";

/** The demo fleet's claim-review consumer, in-process, against the real queue and status APIs over HTTP. */
let server: TestRouteServer;

beforeAll(async () => {
  server = await startTestRouteServer(
    [{ pattern: "/api/v1/claims/[id]/status", handlers: { POST: postStatus } }],
    handleQueueRequest,
  );
});

afterAll(async () => {
  await server.close();
  await stopQueueWakeups();
});

async function rowsOf(ids: string[]) {
  const { rows } = await systemPool().query<{
    id: string;
    status: string;
    notes: string[];
    actors: string[];
    state: string;
  }>(
    `SELECT c.id, c.status,
            array_agg(e.note ORDER BY e.id) AS notes, array_agg(e.actor ORDER BY e.id) AS actors,
            (SELECT m.state::text FROM queue_messages m WHERE m.payload->>'claimId' = c.id) AS state
       FROM claims c JOIN claim_events e ON e.claim_id = c.id
      WHERE c.id = ANY($1::text[]) GROUP BY c.id, c.status ORDER BY c.id`,
    [ids],
  );
  return rows;
}

function start(token: string, o: { needsInfoRate?: number; paused?: () => boolean } = {}) {
  const ac = new AbortController();
  const outcomes: { claimId: string | null; outcome: ReviewOutcome }[] = [];
  const done = runClaimReviewConsumer({
    webUrl: server.url,
    token,
    name: "test-reviewer",
    signal: ac.signal,
    waitSeconds: 1,
    visibilitySeconds: 30,
    reviewMs: { min: 10, max: 50 },
    needsInfoRate: o.needsInfoRate ?? 0,
    ...(o.paused ? { paused: o.paused } : {}),
    onOutcome: (x) => outcomes.push(x),
  });
  return { outcomes, stop: async () => (ac.abort(), await done) };
}

describe("claim-review consumer", () => {
  it("reviews queued claims to DECIDED through the API, as service:claim-review, and acks", async () => {
    const t = await createAgency();
    const token = await createTestServiceToken(t.tenantId);
    const ids = [
      await createTestClaim(t.tenantId, t.veteran.userId),
      await createTestClaim(t.tenantId, t.veteran.userId),
    ];
    const c = start(token);
    const rows = await untilValue("both decided and acked", async () => {
      const r = await rowsOf(ids);
      return r.every((x) => x.status === "DECIDED" && x.state === "done") ? r : null;
    });
    await c.stop();
    for (const r of rows) {
      expect(r.actors).toEqual(["test", "service:claim-review", "service:claim-review"]);
      expect(r.notes.slice(1)).toEqual(["Review started by test-reviewer", "Decision made by test-reviewer"]);
    }
    expect(c.outcomes.map((o) => o.outcome)).toEqual(["DECIDED", "DECIDED"]);
  });

  it("asks for more information when its review says so", async () => {
    const t = await createAgency();
    const token = await createTestServiceToken(t.tenantId);
    const id = await createTestClaim(t.tenantId, t.veteran.userId);
    const c = start(token, { needsInfoRate: 1 });
    await untilValue("needs info", async () => (await rowsOf([id]))[0]?.state === "done");
    await c.stop();
    expect((await rowsOf([id]))[0]!.status).toBe("NEEDS_INFO");
  });

  it("leaves claims queued while paused, handing back what a pending long poll got, and resumes", async () => {
    const t = await createAgency();
    const token = await createTestServiceToken(t.tenantId);
    let paused = false;
    const c = start(token, { paused: () => paused });
    await new Promise((r) => setTimeout(r, 300)); // the consumer is now waiting in a long poll
    paused = true;
    const id = await createTestClaim(t.tenantId, t.veteran.userId);
    // Wake the pending long poll as intake does: it returns the message to a paused consumer.
    await systemPool().query(`SELECT pg_notify('hms_queue', $1)`, [
      JSON.stringify({ tenant: t.tenantId, queue: "claim-review" }),
    ]);
    await new Promise((r) => setTimeout(r, 2_500));
    const { rows } = await systemPool().query<{ attempts: number }>(
      `SELECT attempts FROM queue_messages WHERE payload->>'claimId' = $1`,
      [id],
    );
    expect(rows[0]!.attempts).toBe(1); // it was leased once, and handed back
    expect((await rowsOf([id]))[0]).toMatchObject({ status: "QUEUED", state: "queued" });
    paused = false;
    await untilValue("reviewed after resuming", async () => (await rowsOf([id]))[0]?.state === "done");
    await c.stop();
    expect((await rowsOf([id]))[0]!.status).toBe("DECIDED");
  });

  it("gives a message without a claim id back with a back-off and its reason, touching no claim", async () => {
    const t = await createAgency();
    const token = await createTestServiceToken(t.tenantId);
    const id = randomUUID();
    await systemPool().query(
      `INSERT INTO queue_messages (id, tenant_id, queue, payload) VALUES ($1, $2, 'claim-review', $3)`,
      [id, t.tenantId, { note: "no claim here" }],
    );
    const c = start(token);
    const row = await untilValue("nacked", async () => {
      const { rows } = await systemPool().query<{ state: string; last_error: string | null; delay: number }>(
        `SELECT state, last_error, extract(epoch FROM visible_at - now())::int AS delay FROM queue_messages WHERE id = $1`,
        [id],
      );
      return rows[0]?.state === "queued" && rows[0].last_error ? rows[0] : null;
    });
    await c.stop();
    expect(row.last_error).toContain("no claimId");
    expect(row.delay).toBeGreaterThan(0);
    expect(c.outcomes).toEqual([{ messageId: id, claimId: null, outcome: "failed" }]);
  });
});
