import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transitionClaim } from "@/lib/claims/claim-transitions";
import { createTestClaim, createTestServiceToken } from "@/lib/claims/test-claims";
import { startTestRouteServer, type TestRouteServer } from "@/lib/claims/test-route-server";
import { systemPool } from "@/lib/db/pool";
import { withTenant } from "@/lib/db/tenant-scope";
import { handleQueueRequest } from "@/lib/queue/queue-http";
import { stopQueueWakeups } from "@/lib/queue/queue-wakeups";
import { createAgency } from "@/lib/testing/fixtures";
import { POST as postStatus } from "./route";
import { untilValue } from "@/lib/testing/poll";

/**
 * Reliability (issue 5): kill -9 a claim-review consumer while it holds leases mid-review. Its
 * messages come back after the visibility timeout, a second consumer finishes them, and every
 * claim ends DECIDED or NEEDS_INFO exactly once in effect: one IN_REVIEW and one final row per
 * claim in its timeline, two audit events, every message acked. The consumers are real child
 * processes talking HTTP to the queue data plane and the claim status route on 127.0.0.1.
 */
const MAIN = path.join(process.cwd(), "lib/demo-fleet/claim-review-consumer-main.ts");
const CLAIMS = 20;

let server: TestRouteServer;
let agency: Awaited<ReturnType<typeof createAgency>>;
let token: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  agency = await createAgency();
  token = await createTestServiceToken(agency.tenantId);
  server = await startTestRouteServer(
    [{ pattern: "/api/v1/claims/[id]/status", handlers: { POST: postStatus } }],
    handleQueueRequest,
  );
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await server.close();
  await stopQueueWakeups();
});

interface Outcome {
  messageId: string;
  claimId: string | null;
  outcome: string;
}

function consumer(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      HMS_REVIEW_WEB_URL: server.url,
      HMS_REVIEW_TOKEN: token,
      HMS_REVIEW_WAIT_SECONDS: "1",
      ...env,
    },
  });
  children.push(child);
  const outcomes: Outcome[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const o = JSON.parse(line) as Outcome | { started: number };
    if ("outcome" in o) outcomes.push(o);
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  return { child, outcomes, exited };
}

async function snapshot(ids: string[]) {
  const { rows } = await systemPool().query<{
    id: string;
    status: string;
    timeline: string[];
    audits: number;
    msg_state: string;
    attempts: number;
  }>(
    `SELECT c.id, c.status,
            (SELECT array_agg(e.status::text ORDER BY e.id) FROM claim_events e WHERE e.claim_id = c.id) AS timeline,
            (SELECT count(*)::int FROM audit_events a WHERE a.target = c.id AND a.tenant_id = c.tenant_id AND a.action = 'claim.status_changed') AS audits,
            m.state AS msg_state, m.attempts
       FROM claims c JOIN queue_messages m ON m.payload->>'claimId' = c.id AND m.queue = 'claim-review'
      WHERE c.id = ANY($1::text[]) ORDER BY c.number`,
    [ids],
  );
  return rows;
}

describe("claim-review consumer killed with SIGKILL mid-review", () => {
  it("has its leased messages redelivered and every claim reviewed exactly once in effect", async () => {
    const ids: string[] = [];
    for (let i = 0; i < CLAIMS; i++) ids.push(await createTestClaim(agency.tenantId, agency.veteran.userId));
    // Two claims an earlier consumer finished but died before acking: their messages are queued
    // again. A redelivery must ack them without touching the claim.
    const decidedUnacked = await createTestClaim(agency.tenantId, agency.veteran.userId);
    const needsInfoUnacked = await createTestClaim(agency.tenantId, agency.veteran.userId);
    const meta = { traceId: null as unknown as string, ip: null };
    for (const [id, final] of [
      [decidedUnacked, "DECIDED"],
      [needsInfoUnacked, "NEEDS_INFO"],
    ] as const) {
      await withTenant(agency.tenantId, async (c) => {
        const base = { tenantId: agency.tenantId, claimId: id, actor: "service:claim-review", meta };
        await transitionClaim(c, { ...base, to: "IN_REVIEW" });
        await transitionClaim(c, { ...base, to: final });
      });
      await systemPool().query(`UPDATE queue_messages SET attempts = 1 WHERE payload->>'claimId' = $1`, [id]);
    }
    const all = [...ids, decidedUnacked, needsInfoUnacked];

    // Consumer A: leases everything at once with a 3 s visibility, reviews for 0.2–12 s each.
    const a = consumer({
      HMS_REVIEW_NAME: "reviewer-a",
      HMS_REVIEW_BATCH: "30",
      HMS_REVIEW_VISIBILITY_SECONDS: "3",
      HMS_REVIEW_MIN_MS: "200",
      HMS_REVIEW_MAX_MS: "12000",
    });
    // Kill it once some reviews are finished and others are in progress with their leases held.
    const midway = await untilValue(
      "consumer A to be mid-review",
      async () => {
        const s = await snapshot(all);
        const finished = s.filter((r) => ["DECIDED", "NEEDS_INFO"].includes(r.status) && r.msg_state === "done");
        const inReview = s.filter((r) => r.status === "IN_REVIEW" && r.msg_state === "leased");
        return finished.length >= 5 && inReview.length >= 5 ? { finished, inReview } : null;
      },
      30_000,
    );
    a.child.kill("SIGKILL");
    expect(await a.exited).toEqual({ code: null, signal: "SIGKILL" });
    const heldByA = midway.inReview.map((r) => r.id);

    // Consumer B: takes over once A's leases expire.
    const b = consumer({
      HMS_REVIEW_NAME: "reviewer-b",
      HMS_REVIEW_BATCH: "10",
      HMS_REVIEW_VISIBILITY_SECONDS: "30",
      HMS_REVIEW_MIN_MS: "50",
      HMS_REVIEW_MAX_MS: "200",
    });
    const final = await untilValue(
      "every message acked",
      async () => {
        const s = await snapshot(all);
        return s.every((r) => r.msg_state === "done") ? s : null;
      },
      45_000,
    );
    b.child.kill("SIGTERM");
    expect((await b.exited).code).toBe(0);

    for (const r of final) {
      // Exactly one move into review and one decision per claim, whatever was redelivered.
      expect(r.timeline, r.id).toHaveLength(3);
      expect(r.timeline.slice(0, 2), r.id).toEqual(["QUEUED", "IN_REVIEW"]);
      expect(["DECIDED", "NEEDS_INFO"], r.id).toContain(r.timeline[2]);
      expect(r.status, r.id).toBe(r.timeline[2]);
      expect(r.audits, r.id).toBe(2);
    }
    // The claims A held mid-review were redelivered (a second delivery) and finished by B.
    for (const id of heldByA) {
      const r = final.find((x) => x.id === id)!;
      expect(r.attempts, id).toBeGreaterThanOrEqual(2);
      expect(
        b.outcomes.some((o) => o.claimId === id && ["DECIDED", "NEEDS_INFO", "already-done"].includes(o.outcome)),
      ).toBe(true);
    }
    // The already-finished ones were acked as they were.
    expect(final.find((r) => r.id === decidedUnacked)!.status).toBe("DECIDED");
    expect(final.find((r) => r.id === needsInfoUnacked)!.status).toBe("NEEDS_INFO");
    const settledByB = b.outcomes.filter((o) => o.claimId === decidedUnacked || o.claimId === needsInfoUnacked);
    expect(settledByB.every((o) => o.outcome === "already-done")).toBe(true);
  }, 90_000);

  it("gives its messages back at once when stopped gracefully mid-review", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await createTestClaim(agency.tenantId, agency.veteran.userId));
    const c = consumer({
      HMS_REVIEW_BATCH: "10",
      HMS_REVIEW_VISIBILITY_SECONDS: "300",
      HMS_REVIEW_MIN_MS: "60000",
      HMS_REVIEW_MAX_MS: "60000",
    });
    await untilValue(
      "all three in review",
      async () => {
        const s = await snapshot(ids);
        return s.every((r) => r.status === "IN_REVIEW" && r.msg_state === "leased");
      },
      30_000,
    );
    c.child.kill("SIGTERM");
    expect((await c.exited).code).toBe(0);
    const s = await snapshot(ids);
    // Back in the queue now, not after the 300 s lease: another consumer can take them at once.
    expect(s.map((r) => r.msg_state)).toEqual(["queued", "queued", "queued"]);
    expect(c.outcomes.map((o) => o.outcome)).toEqual(["abandoned", "abandoned", "abandoned"]);
  }, 60_000);
});
