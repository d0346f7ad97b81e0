import { randomBytes } from "node:crypto";
import type pg from "pg";

/** Health-test fixtures: services and instances written with raw SQL (no registry, no SSRF check). */
export interface ServiceSettings {
  name?: string;
  healthPath?: string;
  checkIntervalSeconds?: number;
  timeoutMs?: number;
  failureThreshold?: number;
  successThreshold?: number;
  latencyBudgetMs?: number;
  maintenance?: boolean;
}

export interface InstanceSpec {
  url: string;
  region?: string;
  enabled?: boolean;
  /** default: due now; "never" keeps the prober away (board fixtures) */
  nextCheck?: "now" | "never";
}

export interface TestService {
  id: string;
  tenantId: string;
  name: string;
  instanceIds: string[];
}

export async function createHealthService(
  db: pg.Pool,
  tenantId: string,
  s: ServiceSettings,
  instances: InstanceSpec[],
): Promise<TestService> {
  const name = s.name ?? `svc-${randomBytes(4).toString("hex")}`;
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO services (id, tenant_id, name, health_path, check_interval_seconds, timeout_ms, failure_threshold,
                           success_threshold, latency_budget_ms, maintenance, updated_at)
     VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, now()) RETURNING id`,
    [
      tenantId,
      name,
      s.healthPath ?? "/health",
      s.checkIntervalSeconds ?? 10,
      s.timeoutMs ?? 5_000,
      s.failureThreshold ?? 3,
      s.successThreshold ?? 2,
      s.latencyBudgetMs ?? 1000,
      s.maintenance ?? false,
    ],
  );
  const id = rows[0]!.id;
  const instanceIds: string[] = [];
  for (const i of instances) {
    const r = await db.query<{ id: string }>(
      `INSERT INTO instances (id, service_id, tenant_id, url, region, enabled, next_check_at)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, CASE WHEN $6 THEN 'infinity'::timestamptz ELSE now() END) RETURNING id`,
      [id, tenantId, i.url, i.region ?? "primary", i.enabled ?? true, i.nextCheck === "never"],
    );
    instanceIds.push(r.rows[0]!.id);
  }
  return { id, tenantId, name, instanceIds };
}
