import { describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { createTenant } from "@/lib/testing/fixtures";
import { rawRetentionHours, trimHealthHistory } from "./retention";
import { createHealthService } from "./test-fixtures";

describe("trimHealthHistory", () => {
  it("deletes raw checks past the retention, roll-ups older than 30 days and status events older than a year, in batches", async () => {
    const tenantId = await createTenant("ret");
    const svc = await createHealthService(systemPool(), tenantId, {}, [
      { url: "http://127.0.0.1:9", nextCheck: "never" },
    ]);
    const id = svc.instanceIds[0]!;
    await systemPool().query(
      `INSERT INTO health_checks (instance_id, service_id, tenant_id, at, outcome, worker_id)
       SELECT $1, $2, $3, now() - make_interval(hours => h) + interval '10 minutes', 'pass', 'w' FROM generate_series(1, 30) h`,
      [id, svc.id, tenantId],
    );
    await systemPool().query(
      `INSERT INTO health_rollups (instance_id, minute, service_id, tenant_id, passes, latency_buckets)
       SELECT $1, date_trunc('minute', now()) - make_interval(days => d) + interval '10 minutes', $2, $3, 1, array_fill(0, ARRAY[10])
         FROM generate_series(0, 34) d`,
      [id, svc.id, tenantId],
    );
    await systemPool().query(
      `INSERT INTO service_status_events (service_id, tenant_id, at, status)
       SELECT $1, $2, now() - make_interval(days => d) + interval '10 minutes', 'green' FROM generate_series(360, 369) d`,
      [svc.id, tenantId],
    );
    const r = await trimHealthHistory(systemPool(), { rawHours: 24, batch: 2 });
    expect(r.statusEventsDeleted).toBeGreaterThanOrEqual(4); // days 366..369
    expect(r.checksDeleted).toBeGreaterThanOrEqual(6); // hours 25..30 (other files may add their own old rows: none do)
    expect(r.rollupsDeleted).toBeGreaterThanOrEqual(4); // days 31..34
    const left = await systemPool().query(
      `SELECT (SELECT count(*)::int FROM health_checks WHERE instance_id = $1) AS checks,
              (SELECT count(*)::int FROM health_rollups WHERE instance_id = $1) AS rollups,
              (SELECT count(*)::int FROM service_status_events WHERE service_id = $2) AS events`,
      [id, svc.id],
    );
    expect(left.rows[0]).toEqual({ checks: 24, rollups: 31, events: 6 }); // days 360..365 kept
  });

  it("reads HMS_HEALTH_RAW_RETENTION_HOURS (default 24) and refuses a bad value", () => {
    expect(rawRetentionHours({})).toBe(24);
    expect(rawRetentionHours({ HMS_HEALTH_RAW_RETENTION_HOURS: "48" })).toBe(48);
    expect(() => rawRetentionHours({ HMS_HEALTH_RAW_RETENTION_HOURS: "0" })).toThrow(/HMS_HEALTH_RAW_RETENTION_HOURS/);
    expect(() => rawRetentionHours({ HMS_HEALTH_RAW_RETENTION_HOURS: "soon" })).toThrow(
      /HMS_HEALTH_RAW_RETENTION_HOURS/,
    );
  });
});
