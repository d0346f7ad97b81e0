import type pg from "pg";
import { z } from "zod";
import { appendAudit } from "../audit/append";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";

/**
 * The claim review lifecycle (issue 5, decision 020): which status may follow which, and the one
 * function that moves a claim. Every change is one row in claim_events (the timeline), one
 * `claim.status_changed` audit event and one `NOTIFY hms_claims` (live timelines), all in the
 * caller's tenant-scoped transaction, so they commit together or not at all.
 *
 *   QUEUED → IN_REVIEW → DECIDED
 *                      ↘ NEEDS_INFO → IN_REVIEW → …
 */
export const claimStatuses = ["QUEUED", "IN_REVIEW", "NEEDS_INFO", "DECIDED"] as const;
export const claimStatusSchema = z.enum(claimStatuses);
export type ClaimStatus = z.infer<typeof claimStatusSchema>;

export const CLAIMS_CHANNEL = "hms_claims";

export const claimTransitions: Readonly<Record<ClaimStatus, readonly ClaimStatus[]>> = {
  QUEUED: ["IN_REVIEW"],
  IN_REVIEW: ["DECIDED", "NEEDS_INFO"],
  NEEDS_INFO: ["IN_REVIEW"],
  DECIDED: [],
};

export function allowedNext(from: ClaimStatus): readonly ClaimStatus[] {
  return claimTransitions[from];
}

/**
 * What moving a claim from `from` to `to` means: "noop" when it is already there (a redelivered
 * message or a retried request has the effect of once), "change" when the table allows it.
 * `expectedFrom` (optional) narrows the states a caller is willing to move from — a consumer that
 * only starts reviews of QUEUED claims says `["QUEUED"]`, so a late duplicate cannot pull a claim
 * that has meanwhile reached NEEDS_INFO back into review. Anything else is 409
 * `claim_transition_invalid`, naming the states that may follow.
 */
export function planTransition(
  from: ClaimStatus,
  to: ClaimStatus,
  expectedFrom?: readonly ClaimStatus[],
): "noop" | "change" {
  if (from === to) return "noop";
  const next = allowedNext(from);
  if (!next.includes(to)) {
    throw new AppError(
      "claim_transition_invalid",
      next.length === 0
        ? `The claim is ${from}, a final status; it cannot move to ${to}.`
        : `The claim is ${from}; it can move to ${next.join(" or ")}, not ${to}.`,
      { extra: { currentStatus: from, allowed: [...next] } },
    );
  }
  if (expectedFrom && !expectedFrom.includes(from)) {
    throw new AppError(
      "claim_transition_invalid",
      `The claim is ${from}, not ${expectedFrom.join(" or ")} as the request expected.`,
      { extra: { currentStatus: from, allowed: [...next] } },
    );
  }
  return "change";
}

export interface TransitionInput {
  /** the tenant the caller acts in; null only in the audited all-tenants scope of a global admin */
  tenantId: string | null;
  claimId: string;
  to: ClaimStatus;
  note?: string | null | undefined;
  /** only move from one of these statuses (see planTransition) */
  expectedFrom?: readonly ClaimStatus[] | undefined;
  /** audit trail / timeline name of who moved it (actorOf(caller)) */
  actor: string;
  meta: Pick<RequestMeta, "traceId" | "ip">;
}

export interface TransitionResult {
  claimId: string;
  tenantId: string;
  from: ClaimStatus;
  status: ClaimStatus;
  changed: boolean;
  updatedAt: string;
  /** the claim_events row written (null when nothing changed) */
  eventId: string | null;
}

export const claimIdPattern = /^CLM-\d{1,18}$/;

function notFound(): AppError {
  return new AppError("not_found", "No such claim.");
}

/**
 * Moves one claim, inside the caller's withTenant (or audited admin) transaction `c`. The row is
 * locked (`FOR UPDATE`), so concurrent moves of one claim serialise and the second sees the
 * first's result: two deliveries of one message write one timeline row, one audit event, one
 * notification. A claim the scope cannot see — another tenant's — is 404.
 */
export async function transitionClaim(c: pg.ClientBase, input: TransitionInput): Promise<TransitionResult> {
  if (!claimIdPattern.test(input.claimId)) throw notFound();
  const { rows } = await c.query<{ tenant_id: string; status: ClaimStatus; updated_at: Date }>(
    `SELECT tenant_id, status, updated_at FROM claims
      WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)
      FOR UPDATE`,
    [input.claimId, input.tenantId],
  );
  const row = rows[0];
  if (!row) throw notFound();
  const plan = planTransition(row.status, input.to, input.expectedFrom);
  const base = { claimId: input.claimId, tenantId: row.tenant_id, from: row.status };
  if (plan === "noop") {
    return { ...base, status: row.status, changed: false, updatedAt: row.updated_at.toISOString(), eventId: null };
  }
  const note = input.note?.trim() ? input.note.trim() : null;
  const upd = await c.query<{ updated_at: Date }>(
    `UPDATE claims SET status = $2, updated_at = now() WHERE id = $1 RETURNING updated_at`,
    [input.claimId, input.to],
  );
  const updatedAt = upd.rows[0]!.updated_at.toISOString();
  const ev = await c.query<{ id: string; at: Date }>(
    `INSERT INTO claim_events (claim_id, tenant_id, status, note, actor) VALUES ($1, $2, $3, $4, $5) RETURNING id, at`,
    [input.claimId, row.tenant_id, input.to, note, input.actor],
  );
  const event = ev.rows[0]!;
  await appendAudit(
    {
      tenantId: row.tenant_id,
      actor: input.actor,
      action: "claim.status_changed",
      target: input.claimId,
      outcome: "success",
      traceId: input.meta.traceId,
      ip: input.meta.ip,
      data: { from: row.status, to: input.to, ...(note ? { note } : {}) },
    },
    c,
  );
  // Delivered by PostgreSQL at COMMIT (and never if the transaction rolls back).
  await c.query(`SELECT pg_notify($1, $2)`, [
    CLAIMS_CHANNEL,
    JSON.stringify({ tenant: row.tenant_id, claimId: input.claimId, status: input.to, at: event.at.toISOString() }),
  ]);
  return { ...base, status: input.to, changed: true, updatedAt, eventId: event.id };
}

/** Body of `POST /api/v1/claims/<id>/status`. */
export const statusChangeBody = z
  .object({
    status: z.enum(["IN_REVIEW", "DECIDED", "NEEDS_INFO"]),
    note: z.string().max(2000).optional(),
    /** optional precondition: only move when the claim is currently one of these */
    from: z.array(claimStatusSchema).min(1).max(4).optional(),
  })
  .strict();
export type StatusChangeBody = z.infer<typeof statusChangeBody>;
