import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "../db/pool";
import { withTenant } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import { createAgency } from "../testing/fixtures";
import { CLAIMS_CHANNEL, transitionClaim, type ClaimStatus } from "./claim-transitions";
import { createTestClaim } from "./test-claims";

const meta = { traceId: "0123456789abcdef0123456789abcdef", ip: "127.0.0.1" };

let a: Awaited<ReturnType<typeof createAgency>>;
let b: Awaited<ReturnType<typeof createAgency>>;
let listener: pg.Client;
const heard: { claimId: string; status: string; tenant: string; at: string }[] = [];

beforeAll(async () => {
  a = await createAgency();
  b = await createAgency();
  listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await listener.connect();
  listener.on("notification", (n) => heard.push(JSON.parse(n.payload ?? "{}")));
  await listener.query(`LISTEN ${CLAIMS_CHANNEL}`);
});

afterAll(async () => {
  await listener.end();
});

function move(
  tenantId: string,
  claimId: string,
  to: ClaimStatus,
  extra: { note?: string; expectedFrom?: ClaimStatus[] } = {},
) {
  return withTenant(tenantId, (c) =>
    transitionClaim(c, { tenantId, claimId, to, actor: "operator-x", meta, ...extra }),
  );
}

async function trail(claimId: string) {
  const db = systemPool();
  const events = await db.query<{ status: string; note: string | null; actor: string }>(
    `SELECT status, note, actor FROM claim_events WHERE claim_id = $1 ORDER BY id`,
    [claimId],
  );
  const audits = await db.query<{
    tenant_id: string;
    actor: string;
    data: { from: string; to: string };
    trace_id: string;
  }>(
    `SELECT tenant_id, actor, data, trace_id FROM audit_events WHERE target = $1 AND action = 'claim.status_changed' ORDER BY id`,
    [claimId],
  );
  const claim = await db.query<{ status: string }>(`SELECT status FROM claims WHERE id = $1`, [claimId]);
  return { events: events.rows, audits: audits.rows, status: claim.rows[0]?.status };
}

async function heardFor(claimId: string, count: number) {
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline) {
    const got = heard.filter((h) => h.claimId === claimId);
    if (got.length >= count) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
  return heard.filter((h) => h.claimId === claimId);
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("transitionClaim", () => {
  it("moves a claim QUEUED → IN_REVIEW → DECIDED with a timeline row, an audit event and a NOTIFY per change", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const r1 = await move(a.tenantId, id, "IN_REVIEW", { note: "  picked up  " });
    expect(r1).toMatchObject({ claimId: id, tenantId: a.tenantId, from: "QUEUED", status: "IN_REVIEW", changed: true });
    expect(r1.eventId).toMatch(/^\d+$/);
    const r2 = await move(a.tenantId, id, "DECIDED");
    expect(r2).toMatchObject({ from: "IN_REVIEW", status: "DECIDED", changed: true });

    const t = await trail(id);
    expect(t.status).toBe("DECIDED");
    expect(t.events).toEqual([
      { status: "QUEUED", note: "test claim", actor: "test" },
      { status: "IN_REVIEW", note: "picked up", actor: "operator-x" },
      { status: "DECIDED", note: null, actor: "operator-x" },
    ]);
    expect(t.audits).toEqual([
      {
        tenant_id: a.tenantId,
        actor: "operator-x",
        data: { from: "QUEUED", to: "IN_REVIEW", note: "picked up" },
        trace_id: meta.traceId,
      },
      {
        tenant_id: a.tenantId,
        actor: "operator-x",
        data: { from: "IN_REVIEW", to: "DECIDED" },
        trace_id: meta.traceId,
      },
    ]);
    const n = await heardFor(id, 2);
    expect(n.map((x) => [x.tenant, x.status])).toEqual([
      [a.tenantId, "IN_REVIEW"],
      [a.tenantId, "DECIDED"],
    ]);
    expect(Date.parse(n[1]!.at)).not.toBeNaN();
  });

  it("goes IN_REVIEW → NEEDS_INFO → IN_REVIEW again", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId, { status: "IN_REVIEW" });
    await move(a.tenantId, id, "NEEDS_INFO", { note: "send the DD-214" });
    await move(a.tenantId, id, "IN_REVIEW");
    expect((await trail(id)).events.map((e) => e.status)).toEqual(["QUEUED", "NEEDS_INFO", "IN_REVIEW"]);
  });

  it("is idempotent: a repeat of the same move changes nothing, writes no row, no audit event, no NOTIFY", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    await move(a.tenantId, id, "IN_REVIEW");
    const again = await move(a.tenantId, id, "IN_REVIEW");
    expect(again).toMatchObject({ from: "IN_REVIEW", status: "IN_REVIEW", changed: false, eventId: null });
    const t = await trail(id);
    expect(t.events.map((e) => e.status)).toEqual(["QUEUED", "IN_REVIEW"]);
    expect(t.audits).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(heard.filter((h) => h.claimId === id)).toHaveLength(1);
  });

  it("serialises concurrent moves of one claim: ten at once give one change", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const results = await Promise.all(Array.from({ length: 10 }, () => move(a.tenantId, id, "IN_REVIEW")));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    const t = await trail(id);
    expect(t.events.map((e) => e.status)).toEqual(["QUEUED", "IN_REVIEW"]);
    expect(t.audits).toHaveLength(1);
  });

  it("refuses a move the lifecycle does not allow with 409, and stores nothing", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const e = await refusal(move(a.tenantId, id, "DECIDED"));
    expect(e.code).toBe("claim_transition_invalid");
    expect(e.extra).toEqual({ currentStatus: "QUEUED", allowed: ["IN_REVIEW"] });
    const t = await trail(id);
    expect(t.status).toBe("QUEUED");
    expect(t.events).toHaveLength(1);
    expect(t.audits).toHaveLength(0);
  });

  it("refuses to move back into review a claim that is no longer where the caller expected", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId, { status: "NEEDS_INFO" });
    const e = await refusal(move(a.tenantId, id, "IN_REVIEW", { expectedFrom: ["QUEUED"] }));
    expect(e.code).toBe("claim_transition_invalid");
    expect((await trail(id)).status).toBe("NEEDS_INFO");
  });

  it("answers 404 for another tenant's claim, even when naming that tenant, and leaves it alone", async () => {
    const id = await createTestClaim(b.tenantId, b.veteran.userId);
    expect((await refusal(move(a.tenantId, id, "IN_REVIEW"))).code).toBe("not_found");
    // The scope is the transaction's: naming tenant B inside tenant A's transaction sees nothing.
    const sneaky = withTenant(a.tenantId, (c) =>
      transitionClaim(c, { tenantId: b.tenantId, claimId: id, to: "IN_REVIEW", actor: "x", meta }),
    );
    expect((await refusal(sneaky)).code).toBe("not_found");
    expect((await trail(id)).status).toBe("QUEUED");
  });

  it("answers 404 for a malformed or unknown claim id", async () => {
    expect((await refusal(move(a.tenantId, "CLM-x", "IN_REVIEW"))).code).toBe("not_found");
    expect((await refusal(move(a.tenantId, "CLM-999999999999", "IN_REVIEW"))).code).toBe("not_found");
  });

  it("rolls the change back with the caller's transaction: no row, no audit event, no NOTIFY", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    await expect(
      withTenant(a.tenantId, async (c) => {
        await transitionClaim(c, { tenantId: a.tenantId, claimId: id, to: "IN_REVIEW", actor: "x", meta });
        throw new Error("later step failed");
      }),
    ).rejects.toThrow("later step failed");
    const t = await trail(id);
    expect(t.status).toBe("QUEUED");
    expect(t.events).toHaveLength(1);
    expect(t.audits).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(heard.filter((h) => h.claimId === id)).toHaveLength(0);
  });
});
