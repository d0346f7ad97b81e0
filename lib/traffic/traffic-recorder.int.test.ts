import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { createPool, systemPool } from "@/lib/db/pool";
import { recordGatewayRequest, recordIntakeRequest, recordRateLimited } from "@/lib/telemetry/metrics";
import { createTenant } from "@/lib/testing/fixtures";
import {
  countRateLimited,
  countRequest,
  flushTraffic,
  pendingTrafficRows,
  startTrafficRecorder,
  stopTrafficRecorder,
} from "./traffic-recorder";

interface StoredRow {
  service: string;
  minute: Date;
  c2xx: number;
  c3xx: number;
  c4xx: number;
  c5xx: number;
  rate_limited: number;
  latency_sum_ms: string;
  latency_buckets: number[];
}

async function rowsOf(tenant: string): Promise<StoredRow[]> {
  const { rows } = await systemPool().query<StoredRow>(
    `SELECT service, minute, c2xx, c3xx, c4xx, c5xx, rate_limited, latency_sum_ms, latency_buckets
       FROM traffic_minutes WHERE tenant_id = $1 ORDER BY service, minute`,
    [tenant],
  );
  return rows;
}

/** The start of the minute `back` minutes ago. */
const minuteAgo = (back: number) => Math.floor(Date.now() / 60_000) * 60_000 - back * 60_000;
const HOUR = 3_600_000;

describe("traffic recorder", () => {
  beforeEach(async () => {
    // Each test drives flushing itself: no timer flush in between.
    await stopTrafficRecorder();
    startTrafficRecorder(systemPool(), { flushIntervalMs: HOUR });
  });
  afterAll(async () => {
    await stopTrafficRecorder();
  });

  it("writes one row per tenant, service and minute with counts by status class, 429s and latency buckets", async () => {
    const tenant = await createTenant("tr");
    const m = minuteAgo(5);
    countRequest(tenant, "docs", 200, 5, m + 1_000); // bucket ≤10 ms
    countRequest(tenant, "docs", 101, 30, m + 2_000); // 1xx counts as 2xx; bucket ≤50 ms
    countRequest(tenant, "docs", 304, 12, m + 3_000); // bucket ≤25 ms
    countRequest(tenant, "docs", 200, 0.4, m + 4_000); // bucket ≤10 ms
    countRateLimited(tenant, "docs", m + 4_000); // the limiter's 429: rate-limited and a 4xx, no latency
    countRequest(tenant, "docs", 503, 6_000, m + 59_999); // open-ended last bucket
    countRequest(tenant, "docs", 200, 40.6, m + 60_000); // the next minute
    countRequest(tenant, "intake", 201, 100, m);

    expect(await flushTraffic()).toEqual({ ok: true, rows: 3, kept: 0 });
    expect(pendingTrafficRows()).toBe(0);
    expect(await rowsOf(tenant)).toEqual([
      {
        service: "docs",
        minute: new Date(m),
        c2xx: 3,
        c3xx: 1,
        c4xx: 1,
        c5xx: 1,
        rate_limited: 1,
        latency_sum_ms: "6047", // 5 + 30 + 12 + 0.4 + 6000, rounded
        latency_buckets: [2, 1, 1, 0, 0, 0, 0, 0, 0, 1],
      },
      {
        service: "docs",
        minute: new Date(m + 60_000),
        c2xx: 1,
        c3xx: 0,
        c4xx: 0,
        c5xx: 0,
        rate_limited: 0,
        latency_sum_ms: "41",
        latency_buckets: [0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
      },
      {
        service: "intake",
        minute: new Date(m),
        c2xx: 1,
        c3xx: 0,
        c4xx: 0,
        c5xx: 0,
        rate_limited: 0,
        latency_sum_ms: "100",
        latency_buckets: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
      },
    ]);
  });

  it("adds a second flush to the stored minute (counts and histogram element-wise)", async () => {
    const tenant = await createTenant("tr");
    const m = minuteAgo(3);
    countRequest(tenant, "docs", 200, 8, m);
    countRequest(tenant, "docs", 500, 300, m);
    await flushTraffic();
    countRequest(tenant, "docs", 200, 9, m + 10);
    countRequest(tenant, "docs", 404, 700, m + 20);
    countRateLimited(tenant, "docs", m + 30);
    expect(await flushTraffic()).toMatchObject({ ok: true, rows: 1 });

    const [row] = await rowsOf(tenant);
    expect(row).toMatchObject({ c2xx: 2, c4xx: 2, c5xx: 1, rate_limited: 1, latency_sum_ms: "1017" });
    expect(row!.latency_buckets).toEqual([2, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
  });

  it("keeps counts through a failed flush against a dead database and writes them all later", async () => {
    const tenant = await createTenant("tr");
    const m = minuteAgo(2);
    await stopTrafficRecorder();
    const dead = createPool("postgresql://nobody:nothing@127.0.0.1:1/none", 1);
    try {
      startTrafficRecorder(dead, { flushIntervalMs: HOUR });
      countRequest(tenant, "docs", 200, 20, m);
      countRequest(tenant, "docs", 502, 20, m);
      expect(await flushTraffic()).toEqual({ ok: false, rows: 0, kept: 1 });
      // counted while the database is away: merged with the kept aggregate, not a second row
      countRequest(tenant, "docs", 200, 20, m + 1);
      expect(pendingTrafficRows()).toBe(1);
      expect((await stopTrafficRecorder()).ok).toBe(false); // the shutdown flush fails too: still kept
    } finally {
      await dead.end();
    }

    startTrafficRecorder(systemPool(), { flushIntervalMs: HOUR });
    expect(await flushTraffic()).toEqual({ ok: true, rows: 1, kept: 0 });
    const [row] = await rowsOf(tenant);
    expect(row).toMatchObject({ c2xx: 2, c5xx: 1, latency_sum_ms: "60" });
    expect(row!.latency_buckets).toEqual([0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("bounds memory while the database is away: the oldest minutes beyond the limit are dropped", async () => {
    const tenant = await createTenant("tr");
    await stopTrafficRecorder();
    const dead = createPool("postgresql://nobody:nothing@127.0.0.1:1/none", 1);
    try {
      startTrafficRecorder(dead, { flushIntervalMs: HOUR, maxMinutes: 3 });
      for (const back of [10, 9, 8, 7, 6]) countRequest(tenant, "docs", 200, 1, minuteAgo(back));
      expect(await flushTraffic()).toMatchObject({ ok: false, kept: 5 });
      expect(pendingTrafficRows()).toBe(3);
      await stopTrafficRecorder();
    } finally {
      await dead.end();
    }
    startTrafficRecorder(systemPool(), { flushIntervalMs: HOUR });
    await flushTraffic();
    expect((await rowsOf(tenant)).map((r) => r.minute.getTime())).toEqual([minuteAgo(8), minuteAgo(7), minuteAgo(6)]);
  });

  it("loses nothing counted while a flush is in flight", async () => {
    const tenant = await createTenant("tr");
    const m = minuteAgo(1);
    for (let i = 0; i < 100; i++) countRequest(tenant, "docs", 200, 1, m);
    const first = flushTraffic();
    for (let i = 0; i < 50; i++) countRequest(tenant, "docs", 200, 1, m);
    await first;
    await flushTraffic();
    expect((await rowsOf(tenant))[0]).toMatchObject({ c2xx: 150 });
  });

  it("flushes by itself every interval", async () => {
    const tenant = await createTenant("tr");
    await stopTrafficRecorder();
    startTrafficRecorder(systemPool(), { flushIntervalMs: 200 });
    countRequest(tenant, "docs", 200, 1);
    await expect.poll(async () => (await rowsOf(tenant)).length, { timeout: 5_000, interval: 100 }).toBe(1);
  });

  it('is fed by the metrics recording functions (intake as service "intake")', async () => {
    const tenant = await createTenant("tr");
    recordGatewayRequest({ tenant, service: "docs", status: 200, latencyMs: 3 });
    recordRateLimited({ tenant, service: "docs", scope: "*" });
    recordIntakeRequest({ tenant, status: 201, latencyMs: 120 });
    recordRateLimited({ tenant, service: "intake", scope: "*" });
    await flushTraffic();
    const rows = await rowsOf(tenant);
    // one minute each, unless the clock crossed a minute boundary between the calls
    const sum = (service: string, k: "c2xx" | "c4xx" | "rate_limited") =>
      rows.filter((r) => r.service === service).reduce((a, r) => a + r[k], 0);
    expect([sum("docs", "c2xx"), sum("docs", "c4xx"), sum("docs", "rate_limited")]).toEqual([1, 1, 1]);
    expect([sum("intake", "c2xx"), sum("intake", "c4xx"), sum("intake", "rate_limited")]).toEqual([1, 1, 1]);
  });
});
