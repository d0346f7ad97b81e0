import type pg from "pg";
import { systemPool } from "../db/pool";

/**
 * Appends one audit event. Pass the transaction's client when the event belongs to a business
 * write, so both commit or neither does (and the event lands in that transaction's tenant scope).
 * Without a client the event is written on the all-tenants system pool: sign-ins and token issues
 * are recorded before any tenant scope exists, and a failed sign-in has no tenant at all
 * (row-level security would refuse such an insert on the tenant-less app pool).
 *
 * The worker's sealer (lib/audit/sealer.ts) adds the event to its tenant's hash chain within
 * about a second; the event row itself is insert-only for the app role.
 */
export interface AuditInput {
  tenantId: string | null;
  actor: string;
  action: string;
  target?: string | null;
  outcome: "success" | "failure" | "denied";
  traceId?: string | null;
  ip?: string | null;
  data?: Record<string, unknown>;
}

export async function appendAudit(e: AuditInput, client?: Pick<pg.PoolClient, "query">): Promise<void> {
  await (client ?? systemPool()).query(
    `INSERT INTO audit_events (tenant_id, actor, action, target, outcome, trace_id, ip, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [e.tenantId, e.actor, e.action, e.target ?? null, e.outcome, e.traceId ?? null, e.ip ?? null, e.data ?? null],
  );
}
