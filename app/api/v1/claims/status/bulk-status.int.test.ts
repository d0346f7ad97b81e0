import { beforeAll, describe, expect, it } from "vitest";
import { createTestClaim, createTestServiceToken } from "@/lib/claims/test-claims";
import { systemPool } from "@/lib/db/pool";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency, createUser } from "@/lib/testing/fixtures";
import { POST } from "./route";

let a: Awaited<ReturnType<typeof createAgency>>;
let b: Awaited<ReturnType<typeof createAgency>>;

beforeAll(async () => {
  a = await createAgency();
  b = await createAgency();
});

function bulk(token: string | undefined, body: unknown) {
  return callRoute(POST, {
    method: "POST",
    path: "/api/v1/claims/status",
    token,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** `n` claims of one veteran in one statement (bulk tests need many). */
async function manyClaims(tenantId: string, veteranId: string, n: number): Promise<string[]> {
  const { rows } = await systemPool().query<{ id: string }>(
    `WITH docs AS (
       INSERT INTO documents (id, tenant_id, size_bytes, sha256, page_count, content_type, risky_features)
       SELECT gen_random_uuid(), $1, 1, md5(random()::text), 1, 'application/pdf', '{}' FROM generate_series(1, $3)
       RETURNING id
     ), numbered AS (
       SELECT id AS doc, nextval(pg_get_serial_sequence('claims', 'number')) AS n FROM docs
     )
     INSERT INTO claims (id, number, tenant_id, veteran_id, document_id, status, updated_at)
     SELECT 'CLM-' || n, n, $1, $2, doc, 'QUEUED', now() FROM numbered
     RETURNING id`,
    [tenantId, veteranId, n],
  );
  return rows.map((r) => r.id);
}

describe("POST /api/v1/claims/status", () => {
  it("answers the status of 1,000 claims in one request, in the order asked", async () => {
    const ids = await manyClaims(a.tenantId, a.veteran.userId, 1000);
    const res = await bulk(a.operator.token, { ids });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.missing).toEqual([]);
    expect(body.items).toHaveLength(1000);
    expect(body.items.map((i: { claim_id: string }) => i.claim_id)).toEqual(ids);
    expect(body.items[0]).toEqual({ claim_id: ids[0], status: "QUEUED", updated_at: expect.any(String) });
  });

  it("refuses 1,001 ids and an empty list with 422", async () => {
    const tooMany = Array.from({ length: 1001 }, (_, i) => `CLM-${i + 1}`);
    const p = await problemOf(await bulk(a.operator.token, { ids: tooMany }));
    expect(p).toMatchObject({ status: 422, code: "validation_failed" });
    expect((await problemOf(await bulk(a.operator.token, { ids: [] }))).status).toBe(422);
    expect((await problemOf(await bulk(a.operator.token, { claims: ["CLM-1"] }))).status).toBe(422);
  });

  it("lists another tenant's ids under missing, exactly like unknown and malformed ones", async () => {
    const mine = await createTestClaim(a.tenantId, a.veteran.userId, { status: "IN_REVIEW" });
    const theirs = await createTestClaim(b.tenantId, b.veteran.userId);
    const res = await bulk(a.operator.token, { ids: [theirs, mine, "CLM-999999999999", "not-a-claim", mine] });
    const body = await res.json();
    expect(body.items).toEqual([{ claim_id: mine, status: "IN_REVIEW", updated_at: expect.any(String) }]);
    expect(body.missing).toEqual([theirs, "CLM-999999999999", "not-a-claim"]);
  });

  it("shows a veteran only their own claims, not a neighbour's in the same tenant", async () => {
    const neighbour = await createUser("veteran", a.tenantId);
    const own = await createTestClaim(a.tenantId, a.veteran.userId);
    const theirs = await createTestClaim(a.tenantId, neighbour.userId);
    const body = await (await bulk(a.veteran.token, { ids: [own, theirs] })).json();
    expect(body.items.map((i: { claim_id: string }) => i.claim_id)).toEqual([own]);
    expect(body.missing).toEqual([theirs]);
  });

  it("lets a reviewer service read its tenant's statuses, and only its tenant's", async () => {
    const token = await createTestServiceToken(a.tenantId);
    const own = await createTestClaim(a.tenantId, a.veteran.userId);
    const theirs = await createTestClaim(b.tenantId, b.veteran.userId);
    const body = await (await bulk(token, { ids: [own, theirs] })).json();
    expect(body.items.map((i: { claim_id: string }) => i.claim_id)).toEqual([own]);
    expect(body.missing).toEqual([theirs]);
  });

  it("needs a sign-in", async () => {
    expect((await bulk(undefined, { ids: ["CLM-1"] })).status).toBe(401);
  });
});
