import type pg from "pg";
import { systemPool } from "../db/pool";

/**
 * Appends one audit event. Pass the transaction's client when the event belongs to a business
 * write, so both commit or neither does. Without one (sign-ins, refusals) it is written on its own
 * in the all-tenants scope.
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

export async function appendAudit(e: AuditInput, client: Pick<pg.PoolClient, "query"> = systemPool()): Promise<void> {
  await client.query(
    `INSERT INTO audit_events (tenant_id, actor, action, target, outcome, trace_id, ip, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [e.tenantId, e.actor, e.action, e.target ?? null, e.outcome, e.traceId ?? null, e.ip ?? null, e.data ?? null],
  );
}
