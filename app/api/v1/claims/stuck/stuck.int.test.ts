import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { stuckClaimMinutes } from "@/lib/claims/stuck-claims";
import { createTestClaim, createTestService } from "@/lib/claims/test-claims";
import { systemPool } from "@/lib/db/pool";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency, createUser } from "@/lib/testing/fixtures";
import { GET } from "./route";

let a: Awaited<ReturnType<typeof createAgency>>;
let b: Awaited<ReturnType<typeof createAgency>>;

beforeAll(async () => {
  a = await createAgency();
  b = await createAgency();
});

afterEach(() => {
  delete process.env.HMS_STUCK_CLAIM_MINUTES;
});

function get(token: string, query = "") {
  return callRoute(GET, { path: `/api/v1/claims/stuck${query}`, token });
}

interface Answer {
  items: { claim_id: string; status: string; waitingMinutes: number; updated_at: string; tenant: string }[];
  total: number;
  threshold: number;
  reviewer: null | Record<string, unknown>;
}

describe("GET /api/v1/claims/stuck", () => {
  it("lists the tenant's QUEUED and IN_REVIEW claims older than the threshold, oldest first", async () => {
    const t = await createAgency();
    const old = await createTestClaim(t.tenantId, t.veteran.userId, { updatedMinutesAgo: 90 });
    const reviewing = await createTestClaim(t.tenantId, t.veteran.userId, {
      status: "IN_REVIEW",
      updatedMinutesAgo: 45,
    });
    await createTestClaim(t.tenantId, t.veteran.userId, { updatedMinutesAgo: 5 }); // fresh
    await createTestClaim(t.tenantId, t.veteran.userId, { status: "DECIDED", updatedMinutesAgo: 600 }); // done
    await createTestClaim(t.tenantId, t.veteran.userId, { status: "NEEDS_INFO", updatedMinutesAgo: 600 }); // waits on the veteran
    await createTestClaim(b.tenantId, b.veteran.userId, { updatedMinutesAgo: 999 }); // another tenant

    const res = await get(t.operator.token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Answer;
    expect(body.threshold).toBe(30);
    expect(body.total).toBe(2);
    expect(body.items.map((i) => [i.claim_id, i.status])).toEqual([
      [old, "QUEUED"],
      [reviewing, "IN_REVIEW"],
    ]);
    expect(body.items[0]!.waitingMinutes).toBeGreaterThanOrEqual(89);
    expect(body.items[0]!.waitingMinutes).toBeLessThanOrEqual(91);
    expect(body.reviewer).toBeNull(); // no claim-review service registered in this tenant
  });

  it("follows HMS_STUCK_CLAIM_MINUTES", async () => {
    const t = await createAgency();
    const id = await createTestClaim(t.tenantId, t.veteran.userId, { updatedMinutesAgo: 10 });
    expect(((await (await get(t.operator.token)).json()) as Answer).items).toEqual([]);
    process.env.HMS_STUCK_CLAIM_MINUTES = "5";
    const body = (await (await get(t.operator.token)).json()) as Answer;
    expect(body.threshold).toBe(5);
    expect(body.items.map((i) => i.claim_id)).toEqual([id]);
    expect(() => stuckClaimMinutes({ HMS_STUCK_CLAIM_MINUTES: "soon" })).toThrow(/HMS_STUCK_CLAIM_MINUTES/);
    expect(stuckClaimMinutes({})).toBe(30);
  });

  it("reports the reviewer service's health, breakers and queue next to the stuck claims", async () => {
    const t = await createAgency();
    const serviceId = await createTestService(t.tenantId);
    const db = systemPool();
    await db.query(`UPDATE services SET status = 'red', status_reason = 'no instance can take traffic' WHERE id = $1`, [
      serviceId,
    ]);
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO instances (id, service_id, tenant_id, url, region, status)
       VALUES (gen_random_uuid(), $1, $2, 'http://127.0.0.1:9', 'primary', 'red'),
              (gen_random_uuid(), $1, $2, 'http://127.0.0.1:10', 'secondary', 'green') RETURNING id`,
      [serviceId, t.tenantId],
    );
    await db.query(
      `INSERT INTO circuits (instance_id, service_id, tenant_id, state, open_until) VALUES ($1, $2, $3, 'open', now() + interval '1 minute')`,
      [rows[0]!.id, serviceId, t.tenantId],
    );
    await createTestClaim(t.tenantId, t.veteran.userId, { updatedMinutesAgo: 60 }); // its message: queued
    const leased = await createTestClaim(t.tenantId, t.veteran.userId, { updatedMinutesAgo: 40 });
    await db.query(
      `UPDATE queue_messages SET state = 'leased', attempts = 1, lease_expires_at = now() + interval '20 seconds',
              visible_at = now() + interval '20 seconds'
        WHERE payload->>'claimId' = $1`,
      [leased],
    );
    const dead = await createTestClaim(t.tenantId, t.veteran.userId, { updatedMinutesAgo: 35 });
    await db.query(`UPDATE queue_messages SET state = 'dead', finished_at = now() WHERE payload->>'claimId' = $1`, [
      dead,
    ]);

    const body = (await (await get(t.operator.token)).json()) as Answer;
    expect(body.items).toHaveLength(3);
    expect(body.reviewer).toMatchObject({
      service: "claim-review",
      tenant: t.tenantId,
      status: "red",
      statusReason: "no instance can take traffic",
      instances: { total: 2, enabled: 2, healthy: 1 },
      circuits: { open: 1, halfOpen: 0, forced: 0 },
      breaker: "open",
      queue: { queue: "claim-review", depth: 1, inFlight: 1, dead: 1 },
      consumerLastSeenAt: null,
    });
    const q = body.reviewer!.queue as { oldestReadyAgeSeconds: number; lastLeaseAt: string };
    expect(q.oldestReadyAgeSeconds).toBeGreaterThanOrEqual(0);
    // lease expiry (now + 20 s) minus the default 30 s visibility: about 10 s ago
    expect(Date.now() - Date.parse(q.lastLeaseAt)).toBeGreaterThan(5_000);
    expect(Date.now() - Date.parse(q.lastLeaseAt)).toBeLessThan(15_000);
  });

  it("is for operators and admins: veterans get 403; a global admin may name a tenant or see all", async () => {
    expect((await problemOf(await get(a.veteran.token))).code).toBe("role_forbidden");
    const id = await createTestClaim(b.tenantId, b.veteran.userId, { updatedMinutesAgo: 120 });
    const admin = await createUser("admin", null);
    const named = (await (await get(admin.token, `?tenant=${b.tenantId}`)).json()) as Answer;
    expect(named.items.map((i) => i.claim_id)).toContain(id);
    const all = (await (await get(admin.token)).json()) as Answer;
    expect(all.items.map((i) => i.claim_id)).toContain(id);
    expect(all.reviewer).toBeNull();
    // An operator naming another tenant is not shown it (404, like any other tenant's object).
    expect((await problemOf(await get(a.operator.token, `?tenant=${b.tenantId}`))).code).toBe("not_found");
  });
});
