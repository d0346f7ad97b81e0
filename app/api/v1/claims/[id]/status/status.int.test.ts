import { beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { createTestClaim, createTestServiceToken } from "@/lib/claims/test-claims";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency, createUser, type TestUser } from "@/lib/testing/fixtures";
import { POST } from "./route";

let a: Awaited<ReturnType<typeof createAgency>>;
let b: Awaited<ReturnType<typeof createAgency>>;
let reviewerA: string;
let reviewerB: string;

beforeAll(async () => {
  a = await createAgency();
  b = await createAgency();
  reviewerA = await createTestServiceToken(a.tenantId);
  reviewerB = await createTestServiceToken(b.tenantId);
});

function post(token: string | undefined, id: string, body: unknown, query = "") {
  return callRoute(POST, {
    method: "POST",
    path: `/api/v1/claims/${id}/status${query}`,
    token,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    params: { id },
  });
}

async function statusOf(id: string) {
  const { rows } = await systemPool().query<{ status: string; events: string; audits: string }>(
    `SELECT status,
            (SELECT count(*) FROM claim_events e WHERE e.claim_id = c.id) AS events,
            (SELECT count(*) FROM audit_events x WHERE x.target = c.id AND x.tenant_id = c.tenant_id AND x.action = 'claim.status_changed') AS audits
       FROM claims c WHERE id = $1`,
    [id],
  );
  return { status: rows[0]!.status, events: Number(rows[0]!.events), audits: Number(rows[0]!.audits) };
}

describe("POST /api/v1/claims/<id>/status", () => {
  it("lets an operator of the tenant move a claim, and answers the claim summary", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const res = await post(a.operator.token, id, { status: "IN_REVIEW", note: "taking this one" });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ claim_id: id, status: "IN_REVIEW", changed: true });
    expect(Date.parse(body.updated_at)).not.toBeNaN();
    const { rows } = await systemPool().query(
      `SELECT actor, note FROM claim_events WHERE claim_id = $1 ORDER BY id DESC LIMIT 1`,
      [id],
    );
    expect(rows[0]).toEqual({ actor: a.operator.username, note: "taking this one" });
  });

  it("lets the tenant's reviewer service move a claim with its token, recorded as service:<name>", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    expect((await post(reviewerA, id, { status: "IN_REVIEW", from: ["QUEUED"] })).status).toBe(200);
    const res = await post(reviewerA, id, { status: "DECIDED" });
    expect(await res.json()).toMatchObject({ status: "DECIDED", changed: true });
    const { rows } = await systemPool().query(
      `SELECT actor FROM audit_events WHERE target = $1 AND action = 'claim.status_changed' ORDER BY id`,
      [id],
    );
    expect(rows.map((r) => r.actor)).toEqual(["service:claim-review", "service:claim-review"]);
  });

  it("answers a repeated move with 200 changed:false and writes nothing more", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    await post(reviewerA, id, { status: "IN_REVIEW" });
    const res = await post(reviewerA, id, { status: "IN_REVIEW", from: ["QUEUED"] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "IN_REVIEW", changed: false });
    expect(await statusOf(id)).toEqual({ status: "IN_REVIEW", events: 2, audits: 1 });
  });

  it("refuses a move the lifecycle does not allow with 409 claim_transition_invalid listing what may follow", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    const res = await post(a.operator.token, id, { status: "DECIDED" });
    const p = await problemOf(res);
    expect(p).toMatchObject({
      status: 409,
      code: "claim_transition_invalid",
      currentStatus: "QUEUED",
      allowed: ["IN_REVIEW"],
    });
    expect(p.detail).toContain("IN_REVIEW");
    expect(await statusOf(id)).toEqual({ status: "QUEUED", events: 1, audits: 0 });
  });

  it("answers 404 for another tenant's claim, to its operator and to its service token alike", async () => {
    const id = await createTestClaim(b.tenantId, b.veteran.userId);
    expect((await problemOf(await post(a.operator.token, id, { status: "IN_REVIEW" }))).code).toBe("not_found");
    expect((await problemOf(await post(reviewerA, id, { status: "IN_REVIEW" }))).code).toBe("not_found");
    expect((await post(reviewerB, id, { status: "IN_REVIEW" })).status).toBe(200);
  });

  it("answers an unknown claim with the same 404 as another tenant's", async () => {
    const unknown = await problemOf(await post(a.operator.token, "CLM-987654321987", { status: "IN_REVIEW" }));
    expect(unknown).toMatchObject({ status: 404, code: "not_found" });
  });

  it("refuses veterans (even the owner), other-queue service tokens, and a token naming another tenant", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    expect((await problemOf(await post(a.veteran.token, id, { status: "IN_REVIEW" }))).code).toBe("role_forbidden");
    const notifier = await createTestServiceToken(a.tenantId, "notify", ["notify"]);
    expect((await problemOf(await post(notifier, id, { status: "IN_REVIEW" }))).code).toBe("queue_forbidden");
    expect((await problemOf(await post(reviewerA, id, { status: "IN_REVIEW" }, `?tenant=${b.tenantId}`))).code).toBe(
      "not_found",
    );
    expect((await problemOf(await post(undefined, id, { status: "IN_REVIEW" }))).status).toBe(401);
    expect((await statusOf(id)).status).toBe("QUEUED");
  });

  it("validates the body: unknown status, QUEUED as a target, broken JSON", async () => {
    const id = await createTestClaim(a.tenantId, a.veteran.userId);
    expect((await problemOf(await post(a.operator.token, id, { status: "APPROVED" }))).code).toBe("validation_failed");
    expect((await problemOf(await post(a.operator.token, id, { status: "QUEUED" }))).code).toBe("validation_failed");
    const broken = await callRoute(POST, {
      method: "POST",
      path: `/api/v1/claims/${id}/status`,
      token: a.operator.token,
      headers: { "content-type": "application/json" },
      body: "{",
      params: { id },
    });
    expect((await problemOf(broken)).code).toBe("invalid_json");
  });

  it("lets a global admin act in a named tenant through the audited path", async () => {
    const admin: TestUser = await createUser("admin", null);
    const id = await createTestClaim(b.tenantId, b.veteran.userId);
    const res = await post(admin.token, id, { status: "IN_REVIEW" }, `?tenant=${b.tenantId}`);
    expect(res.status).toBe(200);
    const { rows } = await systemPool().query(
      `SELECT action FROM audit_events WHERE actor = $1 AND tenant_id = $2 ORDER BY id`,
      [admin.username, b.tenantId],
    );
    expect(rows.map((r) => r.action)).toEqual(["admin.cross_tenant_access", "claim.status_changed"]);
    // Naming the wrong tenant hides the claim like any other tenant's.
    const wrong = await post(admin.token, id, { status: "DECIDED" }, `?tenant=${a.tenantId}`);
    expect((await problemOf(wrong)).code).toBe("not_found");
  });
});
