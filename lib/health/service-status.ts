import type pg from "pg";
import { effectiveStateSql } from "../circuit/effective-state-sql";
import { serviceStatus, type HealthStatus } from "./status-rules";

/** Clients (boards, gateway replicas) LISTEN here; the payload is `<tenant>:<service>`. */
export const HEALTH_CHANNEL = "hms_health";

/** `NOTIFY hms_health, '<tenant>:<service>'` — after the commit, so listeners read committed state. */
export async function notifyHealthChange(db: pg.Pool | pg.PoolClient, tenantId: string, serviceName: string) {
  await db.query(`SELECT pg_notify($1, $2)`, [HEALTH_CHANNEL, `${tenantId}:${serviceName}`]);
}

export interface RecomputeResult {
  changed: boolean;
  statusChanged: boolean;
  status: HealthStatus;
  reason: string | null;
  tenantId: string;
  name: string;
}

/**
 * Recomputes a service's status from its instances inside the caller's transaction (the
 * prober after each check; the registry after a drain, an instance change or maintenance).
 * Locks the service row first so concurrent recomputations of one service serialise and the
 * last one sees every committed instance. Updates the service when its status or reason
 * changed; writes a `service_status_events` row only when the STATUS changed (reasons carry
 * measurements such as "slow: 1234 ms", an event per varying number would drown the history).
 * The caller sends `notifyHealthChange` after its commit when `changed`.
 */
export async function recomputeServiceStatus(tx: pg.PoolClient, serviceId: string): Promise<RecomputeResult> {
  const svc = await tx.query<{
    tenant_id: string;
    name: string;
    maintenance: boolean;
    status: HealthStatus;
    status_reason: string | null;
  }>(`SELECT tenant_id, name, maintenance, status, status_reason FROM services WHERE id = $1 FOR UPDATE`, [serviceId]);
  const s = svc.rows[0];
  if (!s) return { changed: false, statusChanged: false, status: "unknown", reason: null, tenantId: "", name: "" };
  // An instance whose breaker is open (tripped or forced) is red (ARCHITECTURE.md §3), whatever
  // its probes say; an open breaker past its period is half-open (trial calls) and counts as its
  // probes say.
  const inst = await tx.query<{
    status: HealthStatus;
    enabled: boolean;
    region: string;
    status_reason: string | null;
    breaker_open: boolean;
    breaker_reason: string | null;
  }>(
    `SELECT i.status, i.enabled, i.region, i.status_reason,
            (${effectiveStateSql("c")}) = 'open' AS breaker_open,
            c.reason AS breaker_reason
       FROM instances i LEFT JOIN circuits c ON c.instance_id = i.id
      WHERE i.service_id = $1 ORDER BY i.region, i.url`,
    [serviceId],
  );
  const verdict = serviceStatus(
    inst.rows.map((r) =>
      // A red instance keeps its own (current) reason; the breaker speaks for instances the probes think fine.
      r.breaker_open && r.status !== "red"
        ? {
            status: "red" as const,
            enabled: r.enabled,
            region: r.region,
            reason: `breaker open: ${r.breaker_reason ?? "tripped"}`,
          }
        : { status: r.status, enabled: r.enabled, region: r.region, reason: r.status_reason },
    ),
    { maintenance: s.maintenance },
  );
  const statusChanged = verdict.status !== s.status;
  const changed = statusChanged || verdict.reason !== s.status_reason;
  if (changed) {
    await tx.query(
      `UPDATE services SET status = $2, status_reason = $3,
              status_changed_at = CASE WHEN $4 THEN now() ELSE status_changed_at END
        WHERE id = $1`,
      [serviceId, verdict.status, verdict.reason, statusChanged],
    );
  }
  if (statusChanged) {
    await tx.query(
      `INSERT INTO service_status_events (service_id, tenant_id, status, reason) VALUES ($1, $2, $3, $4)`,
      [serviceId, s.tenant_id, verdict.status, verdict.reason],
    );
  }
  return {
    changed,
    statusChanged,
    status: verdict.status,
    reason: verdict.reason,
    tenantId: s.tenant_id,
    name: s.name,
  };
}
