import { z } from "zod";
import type { Principal } from "../auth/principal";
import {
  serviceBreakersLateral,
  serviceCircuitSummary,
  type InstanceBreaker,
} from "../circuit/service-circuit-summary";
import type { TenantClient } from "../db/tenant-scope";
import type { RequestMeta } from "../http/request-context";
import { CLAIM_REVIEW_QUEUE } from "../intake/store-claim";
import { queueStats, type QueueStats } from "../queue/queue-admin";
import { inCallerScope } from "../tenancy/tenant-access";

/**
 * The stuck-claims watchdog (issue 5; VA Benefits Intake users asked for one): claims that have
 * sat QUEUED or IN_REVIEW longer than HMS_STUCK_CLAIM_MINUTES since their last status change,
 * oldest first, next to the health of what should be moving them — the tenant's registered
 * service named like the queue (`claim-review`): its status and breakers, the queue's figures
 * (lib/queue/queue-admin.ts: depth, in flight, dead letters, last lease) and when its token was
 * last used.
 */
export const DEFAULT_STUCK_CLAIM_MINUTES = 30;
export const REVIEWER_SERVICE = CLAIM_REVIEW_QUEUE;
export const STUCK_STATUSES = ["QUEUED", "IN_REVIEW"] as const;

const minutesSetting = z.coerce
  .number()
  .int()
  .min(1)
  .max(60 * 24 * 30);

/** HMS_STUCK_CLAIM_MINUTES (default 30); a malformed value is an operator's mistake: thrown, logged as 500. */
export function stuckClaimMinutes(source: Record<string, string | undefined> = process.env): number {
  const raw = source.HMS_STUCK_CLAIM_MINUTES;
  if (raw === undefined || raw === "") return DEFAULT_STUCK_CLAIM_MINUTES;
  const r = minutesSetting.safeParse(raw);
  if (!r.success)
    throw new Error(`Invalid HMS_STUCK_CLAIM_MINUTES: ${r.error.issues.map((i) => i.message).join("; ")}`);
  return r.data;
}

export const stuckClaimsQuery = z.object({
  tenant: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type StuckClaimsQuery = z.infer<typeof stuckClaimsQuery>;

export interface StuckClaim {
  claim_id: string;
  tenant: string;
  status: string;
  waitingMinutes: number;
  updated_at: string;
}

export interface ReviewerHealth {
  service: string;
  tenant: string;
  status: string;
  statusReason: string | null;
  statusChangedAt: string | null;
  maintenance: boolean;
  instances: { total: number; enabled: number; healthy: number };
  circuits: { open: number; halfOpen: number; forced: number };
  /** the worst breaker state among enabled instances: closed < half_open < open */
  breaker: "closed" | "half_open" | "open";
  /** the `claim-review` queue's figures (HMS-SVC queue stats; zeros when it never held a message) */
  queue: Omit<QueueStats, "tenant">;
  /** when a token of the service was last used (any HMS-SVC call) */
  consumerLastSeenAt: string | null;
}

export interface StuckClaimsAnswer {
  items: StuckClaim[];
  /** every stuck claim (items holds at most `limit`, oldest first) */
  total: number;
  threshold: number;
  /** null: no tenant in view (a global admin's all-tenants view), or no `claim-review` service registered */
  reviewer: ReviewerHealth | null;
}

/** Stuck claims visible in the transaction's tenant scope, oldest first. */
export async function listStuckClaims(
  c: TenantClient,
  o: { thresholdMinutes: number; limit: number },
): Promise<{ items: StuckClaim[]; total: number }> {
  const { rows } = await c.query<{
    id: string;
    tenant_id: string;
    status: string;
    updated_at: Date;
    waiting_minutes: number;
    total: string;
  }>(
    `SELECT id, tenant_id, status, updated_at,
            floor(extract(epoch FROM now() - updated_at) / 60)::int AS waiting_minutes,
            count(*) OVER () AS total
       FROM claims
      WHERE status = ANY($1::"ClaimStatus"[]) AND updated_at < now() - make_interval(mins => $2)
      ORDER BY updated_at, id
      LIMIT $3`,
    [STUCK_STATUSES, o.thresholdMinutes, o.limit],
  );
  return {
    items: rows.map((r) => ({
      claim_id: r.id,
      tenant: r.tenant_id,
      status: r.status,
      waitingMinutes: r.waiting_minutes,
      updated_at: r.updated_at.toISOString(),
    })),
    total: rows.length > 0 ? Number(rows[0]!.total) : 0,
  };
}

interface ReviewerRow {
  name: string;
  tenant_id: string;
  status: string;
  status_reason: string | null;
  status_changed_at: Date | null;
  maintenance: boolean;
  breakers: InstanceBreaker[] | null;
  last_seen_at: Date | null;
}

function emptyQueue(): Omit<QueueStats, "tenant"> {
  return {
    queue: CLAIM_REVIEW_QUEUE,
    depth: 0,
    delayed: 0,
    inFlight: 0,
    dead: 0,
    doneLastHour: 0,
    oldestReadyAgeSeconds: null,
    lastLeaseAt: null,
    maxAttempts: 5,
    visibilitySeconds: 30,
  };
}

/** The `claim-review` service of `tenantId` with its queue's figures, or null when none is registered. */
export async function reviewerHealth(c: TenantClient, tenantId: string): Promise<ReviewerHealth | null> {
  const { rows } = await c.query<ReviewerRow>(
    `SELECT s.name, s.tenant_id, s.status, s.status_reason, s.status_changed_at, s.maintenance, brk.breakers,
            (SELECT max(t.last_used_at) FROM service_tokens t WHERE t.service_id = s.id) AS last_seen_at
       FROM services s
       ${serviceBreakersLateral("s")}
      WHERE s.tenant_id = $1 AND s.name = $2`,
    [tenantId, REVIEWER_SERVICE],
  );
  const r = rows[0];
  if (!r) return null;
  const stats = (await queueStats(c, tenantId)).find((q) => q.queue === CLAIM_REVIEW_QUEUE);
  const breakers = r.breakers ?? [];
  const summary = serviceCircuitSummary(breakers);
  const enabled = breakers.filter((b) => b.enabled);
  const breaker = enabled.some((b) => b.circuit === "open")
    ? "open"
    : enabled.some((b) => b.circuit === "half_open")
      ? "half_open"
      : "closed";
  const queue: Omit<QueueStats, "tenant"> = stats
    ? {
        queue: stats.queue,
        depth: stats.depth,
        delayed: stats.delayed,
        inFlight: stats.inFlight,
        dead: stats.dead,
        doneLastHour: stats.doneLastHour,
        oldestReadyAgeSeconds: stats.oldestReadyAgeSeconds,
        lastLeaseAt: stats.lastLeaseAt,
        maxAttempts: stats.maxAttempts,
        visibilitySeconds: stats.visibilitySeconds,
      }
    : emptyQueue();
  return {
    service: r.name,
    tenant: r.tenant_id,
    status: r.status,
    statusReason: r.status_reason,
    statusChangedAt: r.status_changed_at?.toISOString() ?? null,
    maintenance: r.maintenance,
    instances: {
      total: breakers.length,
      enabled: enabled.length,
      healthy: enabled.filter((b) => b.status === "green" || b.status === "yellow").length,
    },
    circuits: summary.circuits,
    breaker,
    queue,
    consumerLastSeenAt: r.last_seen_at?.toISOString() ?? null,
  };
}

/** Stuck claims and the reviewer's health, in the transaction's tenant (null = all tenants). */
export async function stuckClaimsReport(
  c: TenantClient,
  tenant: string | null,
  o: { thresholdMinutes: number; limit: number },
): Promise<StuckClaimsAnswer> {
  const { items, total } = await listStuckClaims(c, o);
  return {
    items,
    total,
    threshold: o.thresholdMinutes,
    reviewer: tenant === null ? null : await reviewerHealth(c, tenant),
  };
}

/** `GET /api/v1/claims/stuck` for an operator (own tenant) or admin (`?tenant=` or all, audited). */
export function stuckClaimsFromRequest(principal: Principal, q: StuckClaimsQuery, meta: RequestMeta) {
  const thresholdMinutes = stuckClaimMinutes();
  return inCallerScope({ principal, tenantParam: q.tenant, meta, view: "claims:stuck" }, (c, tenant) =>
    stuckClaimsReport(c, tenant, { thresholdMinutes, limit: q.limit }),
  );
}
