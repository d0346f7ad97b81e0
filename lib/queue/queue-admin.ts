import { createHash } from "node:crypto";
import { z } from "zod";
import { appendAudit } from "../audit/append";
import type { Principal } from "../auth/principal";
import type { TenantClient } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { inCallerScope } from "../tenancy/tenant-access";
import { checkQueueName } from "./queue-schema";
import { checkMessageId } from "./queue-store";
import { queueWakeups } from "./queue-wakeups";

/**
 * The operators' side of HMS-SVC queues: per-queue figures, dead letters, requeue and discard
 * (both audited in the same transaction). Every function takes a client already in the caller's
 * scope (`tenant` = that tenant, or null = every tenant for a global admin's cross-tenant view,
 * which lib/tenancy/tenant-access audits); the `…FromRequest` functions open that scope.
 */

export interface QueueStats {
  tenant: string;
  queue: string;
  /** ready to lease now: queued and visible, or leased with a lease that ran out */
  depth: number;
  /** queued, not visible yet (sent or nacked with a delay) */
  delayed: number;
  /** leased, lease still running */
  inFlight: number;
  dead: number;
  doneLastHour: number;
  /** age of the oldest ready message (since it was sent), seconds; null when none is ready */
  oldestReadyAgeSeconds: number | null;
  /**
   * when a consumer last leased from the queue (derived from the newest lease expiry minus the
   * queue's visibility; approximate when consumers ask for another visibility); null = none seen
   */
  lastLeaseAt: string | null;
  maxAttempts: number;
  visibilitySeconds: number;
}

interface StatsRow {
  tenant_id: string;
  queue: string;
  depth: string;
  delayed: string;
  in_flight: string;
  dead: string;
  done_hour: string;
  oldest_age: number | null;
  last_lease_at: Date | null;
  max_attempts: number;
  visibility_seconds: number;
}

const STATS_SQL = `
WITH live AS (
  SELECT tenant_id, queue,
         count(*) FILTER (WHERE visible_at <= now()) AS depth,
         count(*) FILTER (WHERE state = 'queued' AND visible_at > now()) AS delayed,
         count(*) FILTER (WHERE state = 'leased' AND visible_at > now()) AS in_flight,
         min(created_at) FILTER (WHERE visible_at <= now()) AS oldest_ready,
         max(lease_expires_at) FILTER (WHERE state = 'leased') AS lease_max
    FROM queue_messages
   WHERE state IN ('queued', 'leased') AND ($1::text IS NULL OR tenant_id = $1)
   GROUP BY tenant_id, queue
), dead AS (
  SELECT tenant_id, queue, count(*) AS dead
    FROM queue_messages WHERE state = 'dead' AND ($1::text IS NULL OR tenant_id = $1)
   GROUP BY tenant_id, queue
), done AS (
  SELECT tenant_id, queue, count(*) AS done_hour
    FROM queue_messages
   WHERE state = 'done' AND finished_at > now() - interval '1 hour' AND ($1::text IS NULL OR tenant_id = $1)
   GROUP BY tenant_id, queue
), names AS (
  SELECT tenant_id, name AS queue FROM queues WHERE ($1::text IS NULL OR tenant_id = $1)
  UNION SELECT tenant_id, queue FROM live
  UNION SELECT tenant_id, queue FROM dead
  UNION SELECT tenant_id, queue FROM done
)
SELECT n.tenant_id, n.queue,
       COALESCE(l.depth, 0) AS depth, COALESCE(l.delayed, 0) AS delayed, COALESCE(l.in_flight, 0) AS in_flight,
       COALESCE(d.dead, 0) AS dead, COALESCE(dn.done_hour, 0) AS done_hour,
       extract(epoch FROM now() - l.oldest_ready)::float8 AS oldest_age,
       LEAST(now(), GREATEST(l.lease_max, ld.v) - make_interval(secs => COALESCE(q.visibility_seconds, 30))) AS last_lease_at,
       COALESCE(q.max_attempts, 5) AS max_attempts, COALESCE(q.visibility_seconds, 30) AS visibility_seconds
  FROM names n
  LEFT JOIN queues q ON q.tenant_id = n.tenant_id AND q.name = n.queue
  LEFT JOIN live l ON l.tenant_id = n.tenant_id AND l.queue = n.queue
  LEFT JOIN dead d ON d.tenant_id = n.tenant_id AND d.queue = n.queue
  LEFT JOIN done dn ON dn.tenant_id = n.tenant_id AND dn.queue = n.queue
  -- a done message's visible_at is the expiry of the lease it was acked under (index max, O(1))
  LEFT JOIN LATERAL (
    SELECT max(x.visible_at) AS v FROM queue_messages x
     WHERE x.tenant_id = n.tenant_id AND x.queue = n.queue AND x.state = 'done'
  ) ld ON true
 ORDER BY n.tenant_id, n.queue`;

export async function queueStats(c: TenantClient, tenant: string | null): Promise<QueueStats[]> {
  const { rows } = await c.query<StatsRow>(STATS_SQL, [tenant]);
  return rows.map((r) => ({
    tenant: r.tenant_id,
    queue: r.queue,
    depth: Number(r.depth),
    delayed: Number(r.delayed),
    inFlight: Number(r.in_flight),
    dead: Number(r.dead),
    doneLastHour: Number(r.done_hour),
    oldestReadyAgeSeconds: r.oldest_age === null ? null : Math.max(0, Math.round(r.oldest_age * 10) / 10),
    lastLeaseAt: r.last_lease_at?.toISOString() ?? null,
    maxAttempts: r.max_attempts,
    visibilitySeconds: r.visibility_seconds,
  }));
}

// --- dead letters ------------------------------------------------------------------------------------

export interface DeadLetter {
  id: string;
  tenant: string;
  queue: string;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  /** when it went dead */
  diedAt: string;
  createdAt: string;
  /** the payload's compact JSON, cut at PREVIEW_CHARS */
  payloadPreview: string;
}

export const PREVIEW_CHARS = 500;

export const deadLettersQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  tenant: z.string().min(1).max(100).optional(),
});
export type DeadLettersQuery = z.infer<typeof deadLettersQuery>;

function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString("base64url");
}

function decodeCursor(raw: string): { at: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && typeof v[0] === "string" && typeof v[1] === "string" && !Number.isNaN(Date.parse(v[0]))) {
      return { at: v[0], id: checkMessageId(v[1]) };
    }
  } catch {
    /* below */
  }
  throw new AppError("validation_failed", "cursor: not a cursor this list gave out.", {
    extra: { errors: [{ path: "cursor", message: "invalid cursor" }] },
  });
}

interface DeadRow {
  id: string;
  tenant_id: string;
  queue: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  visible_at: Date;
  created_at: Date;
  preview: string;
}

/** Dead letters of one queue, most recently dead first (keyset pages on (visible_at, id)). */
export async function listDeadLetters(
  c: TenantClient,
  tenant: string | null,
  queue: string,
  q: { cursor?: string | undefined; limit: number },
): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
  checkQueueName(queue);
  const cur = q.cursor ? decodeCursor(q.cursor) : null;
  const { rows } = await c.query<DeadRow>(
    `SELECT id, tenant_id, queue, attempts, max_attempts, last_error, visible_at, created_at,
            left(payload::text, ${PREVIEW_CHARS}) AS preview
       FROM queue_messages
      WHERE ($1::text IS NULL OR tenant_id = $1) AND queue = $2 AND state = 'dead'
        AND ($3::timestamptz IS NULL OR (visible_at, id) < ($3::timestamptz, $4::uuid))
      ORDER BY visible_at DESC, id DESC
      LIMIT $5`,
    [tenant, queue, cur?.at ?? null, cur?.id ?? null, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({
      id: r.id,
      tenant: r.tenant_id,
      queue: r.queue,
      attempts: r.attempts,
      maxAttempts: r.max_attempts,
      lastError: r.last_error,
      diedAt: r.visible_at.toISOString(),
      createdAt: r.created_at.toISOString(),
      payloadPreview: r.preview,
    })),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.visible_at, last.id) : null,
  };
}

// --- requeue / discard -------------------------------------------------------------------------------

export interface OperatorAction {
  actor: string;
  meta?: Partial<Pick<RequestMeta, "traceId" | "ip">> | undefined;
}

/** An operator's action on one message, audited in the action's transaction. */
function auditMessageAction(
  c: TenantClient,
  a: OperatorAction,
  e: { tenantId: string; action: string; queue: string; id: string; data: Record<string, unknown> },
) {
  return appendAudit(
    {
      tenantId: e.tenantId,
      actor: a.actor,
      action: e.action,
      target: `${e.queue}/${e.id}`,
      outcome: "success",
      traceId: a.meta?.traceId ?? null,
      ip: a.meta?.ip ?? null,
      data: e.data,
    },
    c,
  );
}

async function stateOf(c: TenantClient, tenant: string | null, queue: string, id: string): Promise<string | null> {
  const { rows } = await c.query<{ state: string }>(
    `SELECT state FROM queue_messages WHERE ($1::text IS NULL OR tenant_id = $1) AND queue = $2 AND id = $3`,
    [tenant, queue, id],
  );
  return rows[0]?.state ?? null;
}

/**
 * Puts a dead message back on its queue: queued, visible now, attempts reset (its last_error is
 * kept). Audited `queue.message_requeued` in the same transaction. Returns the message's tenant
 * (announce the queue after the commit). Not dead → 409; unknown → 404.
 */
export async function requeueDeadMessage(
  c: TenantClient,
  tenant: string | null,
  queue: string,
  messageId: string,
  a: OperatorAction,
): Promise<{ tenant: string }> {
  checkQueueName(queue);
  const id = checkMessageId(messageId);
  const { rows } = await c.query<{ tenant_id: string; attempts: number; last_error: string | null }>(
    `UPDATE queue_messages m SET state = 'queued', attempts = 0, visible_at = now(), lease_expires_at = NULL,
            finished_at = NULL, leased_by = NULL
       FROM queue_messages old
      WHERE m.id = old.id AND m.id = $3 AND m.queue = $2 AND ($1::text IS NULL OR m.tenant_id = $1) AND m.state = 'dead'
      RETURNING m.tenant_id, old.attempts, old.last_error`,
    [tenant, queue, id],
  );
  const row = rows[0];
  if (!row) {
    const state = await stateOf(c, tenant, queue, id);
    if (!state) throw new AppError("not_found", `No message ${id} in queue "${queue}".`);
    throw new AppError("message_not_dead", `Only dead messages can be requeued; message ${id} is ${state}.`, {
      extra: { state },
    });
  }
  await auditMessageAction(c, a, {
    tenantId: row.tenant_id,
    action: "queue.message_requeued",
    queue,
    id,
    data: { queue, attempts: row.attempts, lastError: row.last_error },
  });
  return { tenant: row.tenant_id };
}

const AUDIT_PAYLOAD_MAX_CHARS = 4_096;

/**
 * Deletes a message for good, whatever its state (an in-flight consumer's ack then gets 404).
 * Audited `queue.message_discarded` with its state, attempts, last error and payload (or, when
 * larger than 4 KiB, the payload's SHA-256) in the same transaction.
 */
export async function discardMessage(
  c: TenantClient,
  tenant: string | null,
  queue: string,
  messageId: string,
  a: OperatorAction,
): Promise<{ tenant: string }> {
  checkQueueName(queue);
  const id = checkMessageId(messageId);
  const { rows } = await c.query<{
    tenant_id: string;
    state: string;
    attempts: number;
    last_error: string | null;
    payload_text: string;
  }>(
    `DELETE FROM queue_messages WHERE ($1::text IS NULL OR tenant_id = $1) AND queue = $2 AND id = $3
      RETURNING tenant_id, state, attempts, last_error, payload::text AS payload_text`,
    [tenant, queue, id],
  );
  const row = rows[0];
  if (!row) throw new AppError("not_found", `No message ${id} in queue "${queue}".`);
  const small = row.payload_text.length <= AUDIT_PAYLOAD_MAX_CHARS;
  await auditMessageAction(c, a, {
    tenantId: row.tenant_id,
    action: "queue.message_discarded",
    queue,
    id,
    data: {
      queue,
      state: row.state,
      attempts: row.attempts,
      lastError: row.last_error,
      ...(small
        ? { payload: JSON.parse(row.payload_text) as unknown }
        : { payloadSha256: createHash("sha256").update(row.payload_text).digest("hex") }),
    },
  });
  return { tenant: row.tenant_id };
}

// --- HTTP callers (operators and admins) -------------------------------------------------------------

export function queueStatsFromRequest(
  principal: Principal,
  tenantParam: string | undefined,
  meta: RequestMeta,
): Promise<{ items: QueueStats[]; nextCursor: null }> {
  return inCallerScope({ principal, tenantParam, meta, view: "queues" }, async (c, tenant) => ({
    items: await queueStats(c, tenant),
    nextCursor: null,
  }));
}

export function deadLettersFromRequest(
  principal: Principal,
  queue: string,
  q: DeadLettersQuery,
  meta: RequestMeta,
): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
  checkQueueName(queue);
  return inCallerScope({ principal, tenantParam: q.tenant, meta, view: `queue:${queue}:dead` }, (c, tenant) =>
    listDeadLetters(c, tenant, queue, q),
  );
}

export async function requeueFromRequest(
  principal: Principal,
  queue: string,
  id: string,
  tenantParam: string | undefined,
  meta: RequestMeta,
): Promise<void> {
  checkQueueName(queue);
  const { tenant } = await inCallerScope(
    { principal, tenantParam, meta, view: `queue:${queue}:requeue`, auditEveryAccess: true },
    (c, t) => requeueDeadMessage(c, t, queue, id, { actor: principal.username, meta }),
  );
  queueWakeups().announce(tenant, queue);
}

export async function discardFromRequest(
  principal: Principal,
  queue: string,
  id: string,
  tenantParam: string | undefined,
  meta: RequestMeta,
): Promise<void> {
  checkQueueName(queue);
  await inCallerScope(
    { principal, tenantParam, meta, view: `queue:${queue}:discard`, auditEveryAccess: true },
    (c, t) => discardMessage(c, t, queue, id, { actor: principal.username, meta }),
  );
}
