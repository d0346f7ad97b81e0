import type pg from "pg";
import { appendAudit } from "../audit/append";
import { withTransaction } from "../db/pool";
import { withTenantOrAll } from "../db/tenant-scope";
import { notifyHealthChange, recomputeServiceStatus } from "../health/service-status";
import { AppError } from "../http/app-error";
import { logger } from "../telemetry/logger";
import type { CircuitStateName, ForcedState, SharedBreakerState, Transition } from "./breaker";

/**
 * The shared breaker rows (`circuits`): one truth for every gateway replica and the board.
 * Replicas decide locally and persist each transition here with an optimistic `version` check
 * (the first replica to persist a change wins; a loser adopts the winner's row), write a
 * `circuit_events` row in the same statement, recompute the service's status (an open breaker
 * makes an instance red, ARCHITECTURE.md §3) and `NOTIFY hms_circuit` with the new state, so
 * every replica converges without a query.
 */
export const CIRCUIT_CHANNEL = "hms_circuit";

export interface CircuitRow {
  instance_id: string;
  service_id: string;
  tenant_id: string;
  state: CircuitStateName;
  forced: ForcedState | null;
  since: Date;
  open_until: Date | null;
  trip_streak: number;
  last_trip_at: Date | null;
  reason: string | null;
  version: string;
}

/** The NOTIFY payload: enough to adopt the state without reading the row. */
export interface CircuitNotice extends SharedBreakerState {
  instanceId: string;
  serviceId: string;
  tenantId: string;
  by: string;
}

export function sharedStateOf(r: CircuitRow): SharedBreakerState {
  return {
    state: r.state,
    forced: r.forced,
    since: r.since.getTime(),
    openUntil: r.open_until ? r.open_until.getTime() : null,
    tripStreak: r.trip_streak,
    lastTripAt: r.last_trip_at ? r.last_trip_at.getTime() : null,
    reason: r.reason,
    version: Number(r.version),
  };
}

const COLUMNS = `instance_id, service_id, tenant_id, state, forced, since, open_until, trip_streak, last_trip_at, reason, version`;

export async function loadCircuitRows(db: pg.Pool, instanceIds?: readonly string[]): Promise<CircuitRow[]> {
  const { rows } = instanceIds
    ? await db.query<CircuitRow>(`SELECT ${COLUMNS} FROM circuits WHERE instance_id = ANY($1::uuid[])`, [instanceIds])
    : await db.query<CircuitRow>(`SELECT ${COLUMNS} FROM circuits`);
  return rows;
}

export interface PersistInput {
  instanceId: string;
  serviceId: string;
  tenantId: string;
  /** the version the replica's state was based on (0 = no row yet) */
  expectedVersion: number;
  transition: Transition;
  /** the breaker's state after the transition */
  next: Omit<SharedBreakerState, "version">;
  actor: string;
}

/**
 * Persists one replica's transition. Returns the stored row, or the current row when another
 * replica changed it first (the caller adopts it), or null when the instance no longer exists.
 */
export async function persistTransition(
  db: pg.Pool,
  input: PersistInput,
): Promise<{ won: boolean; row: CircuitRow } | null> {
  const n = input.next;
  const t = input.transition;
  const result = await withTransaction(db, async (tx) => {
    if (!(await lockServiceOf(tx, input.instanceId))) return null;
    const args = [
      input.instanceId,
      input.serviceId,
      input.tenantId,
      n.state,
      n.reason,
      new Date(n.since),
      n.openUntil === null ? null : new Date(n.openUntil),
      n.tripStreak,
      n.lastTripAt === null ? null : new Date(n.lastTripAt),
      t.failureRatePct,
      t.windowCalls,
      input.actor,
      input.expectedVersion,
    ];
    // Insert the first row (version 1) or update the expected version; zero rows = lost the race.
    const { rows } = await tx.query<CircuitRow>(
      `INSERT INTO circuits AS c (instance_id, service_id, tenant_id, state, reason, since, open_until, trip_streak,
                                  last_trip_at, failure_rate_pct, window_calls, changed_by, version)
       SELECT $1, $2, $3, $4::"CircuitState", $5, $6, $7, $8, $9, $10, $11, $12, 1
        WHERE EXISTS (SELECT 1 FROM instances WHERE id = $1)
       ON CONFLICT (instance_id) DO UPDATE
          SET state = EXCLUDED.state, reason = EXCLUDED.reason, since = EXCLUDED.since,
              open_until = EXCLUDED.open_until, trip_streak = EXCLUDED.trip_streak,
              last_trip_at = EXCLUDED.last_trip_at, failure_rate_pct = EXCLUDED.failure_rate_pct,
              window_calls = EXCLUDED.window_calls, changed_by = EXCLUDED.changed_by, version = c.version + 1
        WHERE c.version = $13 AND c.forced IS NULL
       RETURNING ${COLUMNS}`,
      args,
    );
    const row = rows[0];
    if (!row) return null;
    await insertEvent(tx, row, t.from, t.to, t.reason, input.actor, new Date(t.at));
    const svc = await recomputeServiceStatus(tx, row.service_id);
    return { row, svc };
  });
  if (result) {
    await announceCircuit(db, result.row, input.actor);
    if (result.svc.changed) await notifyHealthChange(db, result.svc.tenantId, result.svc.name).catch(() => {});
    return { won: true, row: result.row };
  }
  const current = (await loadCircuitRows(db, [input.instanceId]))[0];
  return current ? { won: false, row: current } : null;
}

export type ForceAction = "open" | "closed" | "release";

/**
 * An operator forces a breaker open or closed, or releases it. Audited in the same transaction.
 * An instance the caller's tenant cannot see is `not_found` (never a 403: that would confirm it
 * exists). Releasing a forced-open breaker leaves it half-open (trial calls decide); releasing a
 * forced-closed one leaves it closed.
 */
export async function forceCircuit(
  db: pg.Pool,
  input: {
    instanceId: string;
    action: ForceAction;
    tenantScope: string | null;
    actor: string;
    traceId?: string | null;
    ip?: string | null;
  },
): Promise<void> {
  const row = await withTenantOrAll(
    input.tenantScope,
    async (tx) => {
      const inst = await tx.query<{ service_id: string; tenant_id: string; url: string }>(
        `SELECT service_id, tenant_id, url FROM instances WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)`,
        [input.instanceId, input.tenantScope],
      );
      const i = inst.rows[0];
      if (!i) throw new AppError("not_found", "No such instance.");
      // Lock the service first (the prober and registry lock services before instances).
      await tx.query(`SELECT 1 FROM services WHERE id = $1 FOR UPDATE`, [i.service_id]);
      await tx.query(
        `INSERT INTO circuits (instance_id, service_id, tenant_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [input.instanceId, i.service_id, i.tenant_id],
      );
      const before = (
        await tx.query<CircuitRow>(`SELECT ${COLUMNS} FROM circuits WHERE instance_id = $1 FOR UPDATE`, [
          input.instanceId,
        ])
      ).rows[0]!;
      const fromState = before.forced ?? before.state;
      const { rows } = await tx.query<CircuitRow>(
        input.action === "release"
          ? `UPDATE circuits
              SET forced = NULL, forced_by = NULL, forced_at = NULL, since = now(), changed_by = $2,
                  version = version + 1,
                  state = CASE WHEN forced = 'open' THEN 'open'::"CircuitState" ELSE state END,
                  open_until = CASE WHEN forced = 'open' THEN date_trunc('milliseconds', now()) ELSE open_until END,
                  reason = CASE WHEN forced = 'open' THEN 'released by ' || $2 || ': trial calls decide'
                                ELSE 'released by ' || $2 END
            WHERE instance_id = $1 RETURNING ${COLUMNS}`
          : `UPDATE circuits
              SET forced = $3, forced_by = $2, forced_at = now(), since = now(), changed_by = $2,
                  version = version + 1, reason = 'forced ' || $3 || ' by ' || $2,
                  state = $3::"CircuitState", open_until = NULL
            WHERE instance_id = $1 RETURNING ${COLUMNS}`,
        input.action === "release" ? [input.instanceId, input.actor] : [input.instanceId, input.actor, input.action],
      );
      const after = rows[0]!;
      const toState = after.forced ?? (after.state === "open" ? "half_open" : after.state);
      await insertEvent(tx, after, fromState, toState, after.reason, input.actor, new Date());
      await appendAudit(
        {
          tenantId: i.tenant_id,
          actor: input.actor,
          action: "circuit.force",
          target: `instance:${input.instanceId}`,
          outcome: "success",
          traceId: input.traceId ?? null,
          ip: input.ip ?? null,
          data: { action: input.action, from: fromState, to: toState, url: i.url },
        },
        tx,
      );
      const svc = await recomputeServiceStatus(tx, i.service_id);
      return { after, svc };
    },
    db,
  );
  await announceCircuit(db, row.after, input.actor);
  if (row.svc.changed) await notifyHealthChange(db, row.svc.tenantId, row.svc.name).catch(() => {});
}

/**
 * The health prober's input, inside the prober's own transaction (service row already locked,
 * status recomputed after it, so no transient status is stored in between): an instance that
 * turned red trips its breaker (unless forced or already open). One that is trusted again after
 * being red (successThreshold passing checks in a row) is evidence too (decision 016, update):
 * - a breaker the health check opened (reason "health check: …") is CLOSED: the evidence that
 *   opened it is reversed, and trial calls alone (a few per replica) would refuse a burst;
 * - a breaker the gateway opened (real calls failed) has its open period ended (open_until =
 *   now): a green /health does not prove the calls work, so trials decide — at once, not after
 *   a back-off that may run for minutes;
 * - a forced breaker is never touched.
 * The caller announces the returned row with `announceCircuit` after its commit.
 */
export async function applyHealthVerdict(
  tx: pg.PoolClient,
  input: { instanceId: string; healthy: boolean; reason: string; actor: string; openSeconds: number },
): Promise<CircuitRow | null> {
  // SET reads the old row: `reason` on the right-hand side is the reason the breaker opened with.
  const { rows } = input.healthy
    ? await tx.query<CircuitRow>(
        `UPDATE circuits SET
            state = CASE WHEN reason LIKE 'health check:%' THEN 'closed'::"CircuitState" ELSE state END,
            open_until = CASE WHEN reason LIKE 'health check:%' THEN NULL
                              ELSE date_trunc('milliseconds', now()) END,
            since = CASE WHEN reason LIKE 'health check:%' THEN now() ELSE since END,
            reason = CASE WHEN reason LIKE 'health check:%' THEN $2
                          ELSE $3 || ' (opened: ' || coalesce(reason, 'tripped') || ')' END,
            version = version + 1, changed_by = $4
          WHERE instance_id = $1 AND forced IS NULL AND state = 'open'
            AND (reason LIKE 'health check:%' OR open_until IS NULL OR open_until > now())
          RETURNING ${COLUMNS}`,
        [
          input.instanceId,
          "health check passes again: closed",
          "health check passes again: trial calls decide",
          input.actor,
        ],
      )
    : await tx.query<CircuitRow>(
        `INSERT INTO circuits AS c (instance_id, service_id, tenant_id, state, reason, since, open_until,
                                    trip_streak, last_trip_at, changed_by, version)
         SELECT i.id, i.service_id, i.tenant_id, 'open', $2, now(), now() + make_interval(secs => $4), 1, now(), $3, 1
           FROM instances i WHERE i.id = $1
         ON CONFLICT (instance_id) DO UPDATE
            SET state = 'open', reason = EXCLUDED.reason, since = now(), open_until = EXCLUDED.open_until,
                trip_streak = c.trip_streak + 1, last_trip_at = now(), changed_by = EXCLUDED.changed_by,
                version = c.version + 1
          WHERE c.forced IS NULL AND (c.state <> 'open' OR c.open_until <= now())
         RETURNING ${COLUMNS}`,
        [input.instanceId, `health check: ${input.reason}`, input.actor, input.openSeconds],
      );
  const row = rows[0];
  if (!row) return null;
  const from = input.healthy ? "open" : "closed";
  const to = input.healthy ? (row.state === "closed" ? "closed" : "half_open") : "open";
  await insertEvent(tx, row, from, to, row.reason, input.actor, new Date());
  return row;
}

/** Lock order everywhere: service row, then instance/circuit rows (as the prober and registry do). */
async function lockServiceOf(tx: pg.PoolClient, instanceId: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `SELECT 1 FROM services s JOIN instances i ON i.service_id = s.id WHERE i.id = $1 FOR UPDATE OF s`,
    [instanceId],
  );
  return (rowCount ?? 0) > 0;
}

async function insertEvent(
  tx: pg.PoolClient,
  row: CircuitRow,
  from: string,
  to: string,
  reason: string | null,
  actor: string,
  at: Date,
): Promise<void> {
  await tx.query(
    `INSERT INTO circuit_events (instance_id, service_id, tenant_id, at, from_state, to_state, reason, actor)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [row.instance_id, row.service_id, row.tenant_id, at, from, to, reason, actor],
  );
}

/** NOTIFY after the commit, so a listener that reads the row sees the same state. */
export async function announceCircuit(db: pg.Pool, row: CircuitRow, by: string): Promise<void> {
  const notice: CircuitNotice = {
    ...sharedStateOf(row),
    instanceId: row.instance_id,
    serviceId: row.service_id,
    tenantId: row.tenant_id,
    by,
  };
  await db
    .query(`SELECT pg_notify($1, $2)`, [CIRCUIT_CHANNEL, JSON.stringify(notice)])
    .catch((err: unknown) => logger.warn({ err }, "circuit NOTIFY failed (replicas resync within 30 s)"));
}

export function parseCircuitNotice(payload: string | undefined): CircuitNotice | null {
  if (!payload) return null;
  try {
    const n = JSON.parse(payload) as Partial<CircuitNotice>;
    if (typeof n.instanceId !== "string" || typeof n.version !== "number" || typeof n.state !== "string") return null;
    return n as CircuitNotice;
  } catch {
    return null;
  }
}
