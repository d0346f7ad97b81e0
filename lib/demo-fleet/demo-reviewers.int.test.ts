import { afterAll, describe, expect, it } from "vitest";
import { verifyServiceToken } from "../auth/service-tokens";
import { createTestService } from "../claims/test-claims";
import { createPool, systemPool } from "../db/pool";
import { createTenant } from "../testing/fixtures";
import { issueDemoReviewTokens } from "./demo-reviewers";

// What `npm start` does with its all-tenants pool.
const db = createPool(process.env.DATABASE_URL!, 2, { allTenants: true });
afterAll(() => db.end());

describe("issueDemoReviewTokens", () => {
  it("issues one claim-review token per tenant and revokes the previous start's, audited", async () => {
    const t1 = await createTenant();
    const t2 = await createTenant();
    await createTestService(t1);
    await createTestService(t2);
    const first = await issueDemoReviewTokens(db, () => {}, [t1, t2]);
    expect(Object.keys(first).sort()).toEqual([t1, t2].sort());
    const p = await verifyServiceToken(first[t1]!);
    expect(p).toMatchObject({ tenantId: t1, serviceName: "claim-review", queues: ["claim-review"] });

    const second = await issueDemoReviewTokens(db, () => {}, [t1, t2]);
    expect(second[t1]).not.toBe(first[t1]);
    await expect(verifyServiceToken(first[t1]!)).rejects.toMatchObject({ code: "token_revoked" });
    expect(await verifyServiceToken(second[t1]!)).toMatchObject({ tenantId: t1 });

    const { rows } = await systemPool().query<{ action: string; n: number }>(
      `SELECT action, count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND actor = 'demo-fleet' GROUP BY action ORDER BY action`,
      [t1],
    );
    expect(rows).toEqual([
      { action: "service_token.issued", n: 2 },
      { action: "service_token.revoked", n: 1 },
    ]);
  });

  it("skips a tenant without a claim-review service", async () => {
    const t = await createTenant();
    const logs: string[] = [];
    expect(await issueDemoReviewTokens(db, (m) => logs.push(m), [t])).toEqual({});
    expect(logs.join()).toContain("no claim-review service");
  });
});
