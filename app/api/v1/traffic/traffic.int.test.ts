import { beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency, createUser, type TestUser } from "@/lib/testing/fixtures";
import type { TrafficSeries } from "@/lib/traffic/traffic-queries";
import { GET } from "./route";

const traffic = (user: TestUser | null, query = "") =>
  callRoute(GET, { path: `/api/v1/traffic${query}`, token: user?.token });

async function seed(tenant: string, service: string, c2xx: number) {
  await systemPool().query(
    `INSERT INTO traffic_minutes (tenant_id, service, minute, c2xx, latency_buckets)
     VALUES ($1, $2, date_trunc('minute', now()) - interval '2 minutes', $3, '{0,0,0,0,0,0,0,0,0,0}')`,
    [tenant, service, c2xx],
  );
}

describe("GET /api/v1/traffic", () => {
  let a: Awaited<ReturnType<typeof createAgency>>;
  let b: Awaited<ReturnType<typeof createAgency>>;
  let globalAdmin: TestUser;

  beforeAll(async () => {
    a = await createAgency();
    b = await createAgency();
    globalAdmin = await createUser("admin", null);
    await seed(a.tenantId, "docs", 7);
    await seed(a.tenantId, "intake", 2);
    await seed(b.tenantId, "notify", 5);
  });

  it("refuses anonymous callers (401) and veterans (403)", async () => {
    expect((await problemOf(await traffic(null))).status).toBe(401);
    expect(await problemOf(await traffic(a.veteran))).toMatchObject({ status: 403, code: "role_forbidden" });
  });

  it("gives an operator their own tenant's traffic (default range 1h)", async () => {
    const res = await traffic(a.operator);
    expect(res.status).toBe(200);
    const body = (await res.json()) as TrafficSeries;
    expect(body).toMatchObject({ range: "1h", bucketSeconds: 60 });
    expect(body.tenants.map((t) => t.tenant)).toEqual([a.tenantId]);
    expect(body.tenants[0]!.totals.requests).toBe(9);
    expect(body.tenants[0]!.points).toHaveLength(60);
  });

  it("answers an operator naming another tenant 404 not_found, as the board does", async () => {
    const res = await traffic(a.operator, `?tenant=${b.tenantId}`);
    expect(await problemOf(res)).toMatchObject({ status: 404, code: "not_found" });
  });

  it("answers 422 for an unknown range", async () => {
    const res = await traffic(a.operator, "?range=2h");
    expect(await problemOf(res)).toMatchObject({ status: 422, code: "validation_failed" });
  });

  it("filters by service and range", async () => {
    const body = (await (await traffic(a.operator, "?range=15m&service=intake")).json()) as TrafficSeries;
    expect(body.range).toBe("15m");
    expect(body.tenants[0]!.totals.requests).toBe(2);
    expect(body.tenants[0]!.points).toHaveLength(15);
  });

  it("lets a global admin see every tenant, or pick one", async () => {
    const all = (await (await traffic(globalAdmin, "?range=15m")).json()) as TrafficSeries;
    const names = all.tenants.map((t) => t.tenant);
    expect(names).toEqual(expect.arrayContaining([a.tenantId, b.tenantId]));
    const one = (await (await traffic(globalAdmin, `?tenant=${b.tenantId}`)).json()) as TrafficSeries;
    expect(one.tenants.map((t) => [t.tenant, t.totals.requests])).toEqual([[b.tenantId, 5]]);
  });
});
