import { beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { createTenant } from "@/lib/testing/fixtures";
import { trafficSeries, type TenantTraffic, type TrafficPoint } from "./traffic-queries";

/**
 * Inserts one traffic minute. `at` is an SQL expression for the minute; returns it (epoch ms) as
 * PostgreSQL computed it, so assertions do not depend on the test's own clock.
 */
async function minute(
  tenant: string,
  service: string,
  at: string,
  v: { c2xx?: number; c3xx?: number; c4xx?: number; c5xx?: number; rl?: number; sum?: number; buckets?: number[] },
): Promise<number> {
  const { rows } = await systemPool().query<{ minute: Date }>(
    `INSERT INTO traffic_minutes (tenant_id, service, minute, c2xx, c3xx, c4xx, c5xx, rate_limited, latency_sum_ms, latency_buckets)
     VALUES ($1, $2, ${at}, $3, $4, $5, $6, $7, $8, $9) RETURNING minute`,
    [
      tenant,
      service,
      v.c2xx ?? 0,
      v.c3xx ?? 0,
      v.c4xx ?? 0,
      v.c5xx ?? 0,
      v.rl ?? 0,
      v.sum ?? 0,
      v.buckets ?? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ],
  );
  return rows[0]!.minute.getTime();
}

const pointAt = (t: TenantTraffic, ms: number): TrafficPoint | undefined =>
  t.points.find((p) => Date.parse(p.at) === ms);

describe("trafficSeries", () => {
  let a: string;
  let b: string;
  /** 95 requests at 100–250 ms and 5 over 5 s: p50 ≈ 179 ms, p95 = 250 ms */
  const skewed = [0, 0, 0, 0, 95, 0, 0, 0, 0, 5];

  beforeAll(async () => {
    a = await createTenant("tq");
    b = await createTenant("tq");
  });

  it("per minute for 15m and 1h: counts as they are, p50/p95 from the buckets, older minutes left out", async () => {
    const tenant = await createTenant("tq");
    const m3 = await minute(tenant, "docs", `date_trunc('minute', now()) - interval '3 minutes'`, {
      c2xx: 90,
      c3xx: 2,
      c4xx: 5,
      c5xx: 3,
      rl: 4,
      sum: 20_000,
      buckets: skewed,
    });
    await minute(tenant, "intake", `date_trunc('minute', now()) - interval '3 minutes'`, { c2xx: 10, sum: 500 });
    const old = await minute(tenant, "docs", `date_trunc('minute', now()) - interval '30 minutes'`, { c2xx: 60 });

    const s15 = await trafficSeries(systemPool(), { tenant, range: "15m" });
    expect(s15).toMatchObject({ range: "15m", bucketSeconds: 60 });
    expect(s15.tenants.map((t) => t.tenant)).toEqual([tenant]);
    const t15 = s15.tenants[0]!;
    expect(t15.points).toHaveLength(15);
    expect(t15.points.at(-1)!.partial).toBe(true);
    expect(pointAt(t15, old)).toBeUndefined();
    expect(pointAt(t15, m3)).toEqual({
      at: new Date(m3).toISOString(),
      partial: false,
      c2xx: 100,
      c3xx: 2,
      c4xx: 5,
      c5xx: 3,
      rateLimited: 4,
      p50Ms: 179,
      p95Ms: 250,
    });
    // a minute without traffic is zeros, not missing
    expect(pointAt(t15, m3 - 60_000)).toMatchObject({ c2xx: 0, c5xx: 0, rateLimited: 0, p50Ms: null, p95Ms: null });
    expect(t15.totals).toEqual({
      requests: 110,
      c2xx: 100,
      c3xx: 2,
      c4xx: 5,
      c5xx: 3,
      rateLimited: 4,
      avgMs: 186, // (20000 + 500) / 110
      p50Ms: 179,
      p95Ms: 250,
    });
    expect(t15.services.map((s) => [s.service, s.requests])).toEqual([
      ["docs", 100],
      ["intake", 10],
    ]);

    const t1h = (await trafficSeries(systemPool(), { tenant, range: "1h" })).tenants[0]!;
    expect(t1h.points).toHaveLength(60);
    expect(pointAt(t1h, old)).toMatchObject({ c2xx: 60 });
    expect(t1h.totals.requests).toBe(170);
  });

  it("24h: 15-minute buckets normalised to requests per minute", async () => {
    const tenant = await createTenant("tq");
    const bucket = `date_bin('15 minutes', now(), 'epoch'::timestamptz) - interval '30 minutes'`;
    const start = await minute(tenant, "docs", bucket, { c2xx: 10, c5xx: 15, rl: 3, buckets: skewed });
    await minute(tenant, "docs", `${bucket} + interval '5 minutes'`, { c2xx: 20 });
    await minute(tenant, "docs", `${bucket} + interval '14 minutes'`, { c2xx: 30, c4xx: 6 });

    const s = await trafficSeries(systemPool(), { tenant, range: "24h" });
    expect(s.bucketSeconds).toBe(900);
    const t = s.tenants[0]!;
    expect(t.points).toHaveLength(96);
    expect(pointAt(t, start)).toMatchObject({
      partial: false,
      c2xx: 4,
      c4xx: 0.4,
      c5xx: 1,
      rateLimited: 0.2,
      p95Ms: 250,
    });
    expect(t.totals).toMatchObject({ requests: 81, c2xx: 60, c4xx: 6, c5xx: 15, rateLimited: 3 });
  });

  it("divides the current, partial bucket by the minutes begun so far", async () => {
    const tenant = await createTenant("tq");
    const current = await minute(tenant, "docs", `date_trunc('minute', now())`, { c2xx: 120 });
    const s = await trafficSeries(systemPool(), { tenant, range: "24h" });
    const points = s.tenants[0]!.points;
    expect(points.at(-1)!.partial).toBe(true);
    expect(points.filter((p) => p.partial)).toHaveLength(1);
    // the bucket holding the minute (the last one, unless a 15-minute boundary passed meanwhile)
    const p = points.find((x) => Date.parse(x.at) <= current && current < Date.parse(x.at) + 15 * 60_000)!;
    const begun = p.partial ? Math.floor((Date.parse(s.to) - Date.parse(p.at)) / 60_000) + 1 : 15;
    expect(begun).toBeGreaterThanOrEqual(1);
    expect(p.c2xx).toBe(Math.round((120 / begun) * 100) / 100);
  });

  it("7d: hourly buckets normalised per minute", async () => {
    const tenant = await createTenant("tq");
    const hour = `date_trunc('hour', now()) - interval '5 hours'`;
    const start = await minute(tenant, "docs", hour, { c2xx: 60 });
    await minute(tenant, "docs", `${hour} + interval '59 minutes'`, { c2xx: 60, c3xx: 30 });
    await minute(tenant, "docs", `now() - interval '8 days'`, { c2xx: 1_000 });
    const t = (await trafficSeries(systemPool(), { tenant, range: "7d" })).tenants[0]!;
    expect(t.points).toHaveLength(168);
    expect(pointAt(t, start)).toMatchObject({ c2xx: 2, c3xx: 0.5 });
    expect(t.totals.requests).toBe(150);
  });

  it("scopes to one tenant, or returns every tenant with traffic (one group each), and filters by service", async () => {
    await minute(a, "docs", `date_trunc('minute', now()) - interval '2 minutes'`, { c2xx: 1 });
    await minute(b, "docs", `date_trunc('minute', now()) - interval '2 minutes'`, { c2xx: 2 });
    await minute(b, "intake", `date_trunc('minute', now()) - interval '2 minutes'`, { c2xx: 3 });

    const onlyA = await trafficSeries(systemPool(), { tenant: a, range: "1h" });
    expect(onlyA.tenants.map((t) => t.tenant)).toEqual([a]);

    const all = await trafficSeries(systemPool(), { tenant: null, range: "1h" });
    const ours = all.tenants.filter((t) => t.tenant === a || t.tenant === b);
    const expected: [string, number][] = [
      [a, 1],
      [b, 5],
    ];
    expect(ours.map((t) => [t.tenant, t.totals.requests])).toEqual(expected.sort((x, y) => (x[0] < y[0] ? -1 : 1)));

    const intake = await trafficSeries(systemPool(), { tenant: b, range: "1h", service: "intake" });
    expect(intake.tenants[0]!.totals.requests).toBe(3);
    expect(intake.tenants[0]!.services.map((s) => s.service)).toEqual(["intake"]);
  });

  it("answers an empty list for a tenant without traffic", async () => {
    const tenant = await createTenant("tq");
    const s = await trafficSeries(systemPool(), { tenant, range: "15m" });
    expect(s.tenants).toEqual([]);
    expect(Date.parse(s.to)).toBeGreaterThan(Date.parse(s.from));
  });
});
