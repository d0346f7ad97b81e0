import { describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { createHealthService } from "@/lib/health/test-fixtures";
import { createTenant } from "@/lib/testing/fixtures";
import { trimGatewayHistory } from "./traffic-retention";

describe("trimGatewayHistory", () => {
  it("deletes traffic minutes older than 8 days and breaker events older than 30 days, in batches", async () => {
    const tenant = await createTenant("rt");
    await systemPool().query(
      `INSERT INTO traffic_minutes (tenant_id, service, minute, c2xx, latency_buckets)
       SELECT $1, 'docs', date_trunc('minute', now()) - make_interval(days => d) + interval '10 minutes', 1, array_fill(0, ARRAY[10])
         FROM generate_series(0, 11) d`,
      [tenant],
    );
    const svc = await createHealthService(systemPool(), tenant, {}, [
      { url: "http://127.0.0.1:9", nextCheck: "never" },
    ]);
    await systemPool().query(
      `INSERT INTO circuit_events (instance_id, service_id, tenant_id, at, from_state, to_state, actor)
       SELECT $1, $2, $3, now() - make_interval(days => d) + interval '10 minutes', 'closed', 'open', 'test'
         FROM generate_series(0, 34) d`,
      [svc.instanceIds[0], svc.id, tenant],
    );

    const [gone, live] = [`gone-${tenant}`, `live-${tenant}`];
    await systemPool().query(
      `INSERT INTO gateway_replicas (replica_id, hostname, pid, last_seen_at)
       VALUES ($1, 'h', 1, now() - interval '61 minutes'), ($2, 'h', 2, now() - interval '5 minutes')`,
      [gone, live],
    );

    const r = await trimGatewayHistory(systemPool(), { batch: 2 });
    const replicas = await systemPool().query<{ replica_id: string }>(
      `SELECT replica_id FROM gateway_replicas WHERE replica_id = ANY($1)`,
      [[gone, live]],
    );
    expect(replicas.rows.map((x) => x.replica_id)).toEqual([live]); // killed an hour ago: gone; quiet 5 min: kept
    expect(r.replicasDeleted).toBeGreaterThanOrEqual(1);
    expect(r.trafficDeleted).toBeGreaterThanOrEqual(3); // days 9..11 (other files' old rows may go too)
    expect(r.circuitEventsDeleted).toBeGreaterThanOrEqual(4); // days 31..34
    const left = await systemPool().query(
      `SELECT (SELECT count(*)::int FROM traffic_minutes WHERE tenant_id = $1) AS traffic,
              (SELECT count(*)::int FROM circuit_events WHERE tenant_id = $1) AS events`,
      [tenant],
    );
    expect(left.rows[0]).toEqual({ traffic: 9, events: 31 });
  });
});
