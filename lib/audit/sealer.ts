import pg from "pg";
import { systemPool, withTransaction } from "../db/pool";
import type { LoopSpec } from "../worker/loop";
import { GENESIS_HASH, canonicalColumns, chainHash } from "./canonical";
import { copyOutRows } from "./copy-out";
import { keyRing, type AuditKeyRing } from "./keys";

/**
 * The audit sealer (issue 5, decision 018): the worker's `audit-seal` loop appends every new
 * `audit_events` row to its tenant's hash chain in `audit_seals`. Writers never wait for it: they
 * insert their event in their own transaction, and within about a second it is sealed.
 *
 * Which events still need a seal. Event ids come from a sequence, so a transaction that took id
 * 10 may commit after the one that took id 11 was sealed: "id > last sealed id" would skip it
 * forever. Rounds instead select unsealed events by time (`at`, the inserting transaction's start
 * time) on the `(tenant_id, at)` index, probing the unique `audit_seals.event_id` index for each
 * row, and seal them in `at` order:
 *
 * - `tail` (every second): events from the chain head's `at` on (but never more than TAIL_MS
 *   back) — the new events; a handful of rows.
 * - `window` (every WINDOW_EVERY_MS): events of the last SEAL_MARGIN_MS — also the late
 *   committers. An event whose transaction started at `at` and committed at c ≥ at is seen by
 *   the first window round after c, which starts before c + WINDOW_EVERY_MS and looks back to
 *   (its start − SEAL_MARGIN_MS) ≤ at, as long as the transaction took less than
 *   SEAL_MARGIN_MS − WINDOW_EVERY_MS (4.5 min; ours take milliseconds and the pool cancels any
 *   statement after 60 s). Cost: the last five minutes of the tenant's events, twice a minute.
 * - `sweep` (at worker start and every SWEEP_EVERY_MS): every unsealed event, whatever its age —
 *   the safety net for anything else (a worker that was down, a database outage, an event written
 *   with an odd `at`). Cost: one index pass over the tenant's events.
 *
 * `verifyAuditChain` reports events still without a seal as `unsealed`.
 *
 * Several workers may run this at once: each batch is one transaction that first takes
 * `pg_try_advisory_xact_lock` for the chain (skipping a chain another worker is sealing), then
 * reads the head and appends seq head+1…; the primary key (chain, seq) and the unique event_id
 * make a fork or a double seal impossible even if the lock were somehow lost (the insert fails
 * and the batch rolls back).
 */
export const TAIL_MS = 10_000;
export const SEAL_MARGIN_MS = 5 * 60_000;
export const WINDOW_EVERY_MS = 30_000;
export const SWEEP_EVERY_MS = 15 * 60_000;
export const SEAL_BATCH = 5_000;
/** advisory lock class of the sealer ("AUDT"); the second key is hashtext(chain) */
const LOCK_CLASS = 0x41554454;

/**
 * Planner settings for the sealer's and verifier's walks, local to their transaction. With the
 * row-level-security qual (`tenant_id = current_setting(…) OR current_setting(…) = '*'`)
 * PostgreSQL guesses that almost no row qualifies, and on a large table picks a parallel seq scan
 * with a hash anti-join over every seal and a sort: seconds per batch, and a cost that grows with
 * the table. The walks are index range scans by construction; these settings pin that plan.
 */
export const PLAN_SETTINGS = `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
  SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL enable_sort = off;
  SET LOCAL max_parallel_workers_per_gather = 0`;

export type SealMode = "tail" | "window" | "sweep";

export interface SealOptions {
  signal?: AbortSignal;
  /** default "window" */
  mode?: SealMode;
  batchSize?: number;
  /** stop starting new batches after this long; the next round continues (default 20 s) */
  maxMs?: number;
  keys?: AuditKeyRing;
  /** only these chains ("" = events without a tenant); default every chain with events */
  chains?: readonly string[];
}

export interface SealResult {
  sealed: number;
  chains: number;
  /** chains skipped because another worker held their lock */
  busy: number;
  /** false when the time limit or the abort signal stopped the round with work left */
  complete: boolean;
}

/** Every chain that has events: a skip scan over the (tenant_id, at) index, plus the global chain. */
export async function auditChains(db: Pick<pg.Pool, "query">): Promise<string[]> {
  const { rows } = await db.query<{ chain: string }>(
    `WITH RECURSIVE t AS (
       (SELECT tenant_id FROM audit_events WHERE tenant_id IS NOT NULL ORDER BY tenant_id LIMIT 1)
       UNION ALL
       SELECT (SELECT e.tenant_id FROM audit_events e WHERE e.tenant_id > t.tenant_id ORDER BY e.tenant_id LIMIT 1)
         FROM t WHERE t.tenant_id IS NOT NULL)
     SELECT '' AS chain WHERE EXISTS (SELECT 1 FROM audit_events WHERE tenant_id IS NULL)
     UNION ALL
     SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL`,
  );
  return rows.map((r) => r.chain);
}

/** Offsets of the first ten tabs of a canonical line (fields 1…10 start after them). */
function tabPositions(row: Buffer): number[] {
  const out: number[] = [];
  let p = -1;
  for (let i = 0; i < 10; i++) out.push((p = row.indexOf(9, p + 1)));
  return out;
}

type BatchResult = { busy: true } | { busy: false; count: number; last: Date | null };

async function sealBatch(
  db: pg.Pool,
  chain: string,
  keys: AuditKeyRing,
  cursor: Date | null,
  limit: number,
  mode: SealMode,
): Promise<BatchResult> {
  return withTransaction(db, async (c) => {
    const lock = await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok`, [
      LOCK_CLASS,
      chain,
    ]);
    if (!lock.rows[0]?.ok) return { busy: true };
    await c.query(PLAN_SETTINGS);

    const head = await c.query<{ seq: string; hash: string; head_at: Date }>(
      `SELECT s.seq, s.hash, LEAST(COALESCE(e.at, s.sealed_at), now()) AS head_at
         FROM audit_seals s LEFT JOIN audit_events e ON e.id = s.event_id
        WHERE s.chain = $1
        ORDER BY s.seq DESC LIMIT 1`,
      [chain],
    );
    const h = head.rows[0];
    const where: string[] = [chain === "" ? "e.tenant_id IS NULL" : `e.tenant_id = ${pg.escapeLiteral(chain)}`];
    const ts = (d: Date) => `'${d.toISOString()}'::timestamptz`;
    if (mode === "tail") {
      const from = `now() - make_interval(secs => ${TAIL_MS / 1000})`;
      where.push(h ? `e.at >= GREATEST(${ts(h.head_at)}, ${from})` : `e.at >= ${from}`);
    } else if (mode === "window") {
      where.push(`e.at >= now() - make_interval(secs => ${SEAL_MARGIN_MS / 1000})`);
    }
    // Within one call, continue from the last batch's time (inclusive: the events of that
    // millisecond already sealed are skipped by the anti-join) instead of re-reading the window.
    if (cursor) where.push(`e.at >= ${ts(cursor)}`);

    let seq = h ? Number(h.seq) : 0;
    let prev = h?.hash ?? GENESIS_HASH;
    let lastAtMs = 0;
    const seqs: number[] = [];
    const ids: string[] = [];
    const prevs: string[] = [];
    const hashes: string[] = [];
    // The events' canonical lines straight from COPY (the same bytes the verifier reads).
    await copyOutRows(
      c,
      `SELECT ${canonicalColumns("e")}
         FROM audit_events e
        WHERE ${where.join(" AND ")}
          AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id)
        ORDER BY e.at
        LIMIT ${Math.max(1, Math.floor(limit))}`,
      (chunk, end) => {
        const row = chunk.subarray(0, end);
        const tab = tabPositions(row);
        const hash = chainHash(keys.current.object, prev, row);
        seqs.push(++seq);
        ids.push(row.toString("latin1", tab[0]! + 1, tab[1]));
        prevs.push(prev);
        hashes.push(hash);
        lastAtMs = Number(row.toString("latin1", tab[8]! + 1, tab[9]));
        prev = hash;
      },
    );
    if (ids.length === 0) return { busy: false, count: 0, last: null };
    await c.query(
      `INSERT INTO audit_seals (chain, seq, tenant_id, event_id, prev_hash, hash, key_id)
       SELECT $1, t.seq, $2, t.event_id, t.prev_hash, t.hash, $3
         FROM unnest($4::bigint[], $5::bigint[], $6::text[], $7::text[]) AS t(seq, event_id, prev_hash, hash)`,
      [chain, chain === "" ? null : chain, keys.current.id, seqs, ids, prevs, hashes],
    );
    return { busy: false, count: ids.length, last: new Date(lastAtMs) };
  });
}

/** One sealing round over every chain (or `opts.chains`). Safe to run on many workers at once. */
export async function sealAuditChains(db: pg.Pool, opts: SealOptions = {}): Promise<SealResult> {
  const keys = opts.keys ?? keyRing();
  const batch = opts.batchSize ?? SEAL_BATCH;
  const mode = opts.mode ?? "window";
  const deadline = Date.now() + (opts.maxMs ?? 20_000);
  const chains = opts.chains ?? (await auditChains(db));
  const result: SealResult = { sealed: 0, chains: chains.length, busy: 0, complete: true };
  for (const chain of chains) {
    let cursor: Date | null = null;
    for (;;) {
      if (opts.signal?.aborted || Date.now() >= deadline) {
        result.complete = false;
        break;
      }
      const r = await sealBatch(db, chain, keys, cursor, batch, mode);
      if (r.busy) {
        result.busy++;
        break;
      }
      result.sealed += r.count;
      if (r.count < batch || !r.last) break;
      cursor = r.last;
    }
  }
  return result;
}

/**
 * The worker loop (lib/worker/main.ts): a `tail` round every second on the all-tenants pool, a
 * `window` round every WINDOW_EVERY_MS, a `sweep` at start and every SWEEP_EVERY_MS. A sweep cut
 * short by its time limit (a large backlog, e.g. the first start on an existing database)
 * continues on the next round until it completes.
 */
export function auditSealLoop(db: () => pg.Pool = systemPool): LoopSpec {
  let lastSweep = 0;
  let lastWindow = 0;
  return {
    name: "audit-seal",
    everyMs: 1000,
    handler: async (signal) => {
      const now = Date.now();
      const mode: SealMode =
        now - lastSweep >= SWEEP_EVERY_MS ? "sweep" : now - lastWindow >= WINDOW_EVERY_MS ? "window" : "tail";
      const r = await sealAuditChains(db(), { signal, mode });
      if (mode === "sweep" && r.complete) lastSweep = lastWindow = now;
      if (mode === "window") lastWindow = now;
    },
  };
}
