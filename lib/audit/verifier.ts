import { createHmac, type KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import pg from "pg";
import { GENESIS_HASH, canonicalColumns } from "./canonical";
import { copyOutRows } from "./copy-out";
import { HmacWorkers } from "./hmac-workers";
import { keyRing, type AuditKeyRing } from "./keys";
import { PLAN_SETTINGS } from "./sealer";

/**
 * Verifies one audit chain (issue 5): walks `audit_seals` by seq, joins each seal to its event,
 * recomputes the HMAC from the event as it is now and compares. The first break is reported with
 * the seq and event where it is and why:
 *
 * - `seq_gap`: a seal is missing (deleted) — `seq` is the first missing number;
 * - `prev_hash_mismatch`: a seal does not link to the one before it (seals deleted, reordered
 *   or rewritten);
 * - `unknown_key`: sealed with a key this process does not have (add it to
 *   HMS_AUDIT_PREVIOUS_KEYS after a rotation);
 * - `event_missing`: the sealed event row is gone;
 * - `event_changed`: the event no longer matches its seal (a column was changed, or the seal's
 *   hash was).
 *
 * Speed (goal: 1,000,000 events in ≤ 10 s on 2 cores; scripts/bench/audit.ts measures it): the
 * seals and their events stream out of PostgreSQL with `COPY (…) TO STDOUT`, one message per
 * seal whose tail is already the event's canonical encoding (lib/audit/canonical.ts), in ranges
 * of VERIFY_RANGE seqs. Per seal Node does one HMAC and a few byte comparisons on the message,
 * without building strings or objects; the database produces the next rows meanwhile.
 *
 * Run it on a client inside a tenant-scoped transaction (withTenant): row-level security then
 * keeps it inside the caller's tenant whatever `chain` says. Deleting the newest seals and events
 * together (a truncated tail) cannot be seen from inside the chain; compare `headSeq` /
 * `headHash` with a copy recorded elsewhere for that (docs/operations.md).
 */
export type BreakReason = "event_changed" | "event_missing" | "seq_gap" | "prev_hash_mismatch" | "unknown_key";

export interface ChainBreak {
  seq: string;
  eventId: string | null;
  reason: BreakReason;
  /** the event's time (ISO), when the event is there */
  at: string | null;
}

export interface VerifyResult {
  ok: boolean;
  chain: string;
  /** seals checked (up to and including the broken one) */
  checked: number;
  brokenAt: ChainBreak | null;
  /** events of the chain without a seal yet (the sealer seals new ones within about a second) */
  unsealed: number;
  headSeq: string | null;
  headHash: string | null;
  verifiedAt: string;
  durationMs: number;
}

export const VERIFY_RANGE = 200_000;
/** chains longer than this hash on worker threads */
export const WORKER_THRESHOLD = 50_000;

const TAB = 9;
const BACKSLASH = 0x5c;
const CAPITAL_N = 0x4e;

interface Found {
  seq: string;
  eventId: string | null;
  reason: BreakReason;
}

/**
 * The walk's state; `check` is called once per COPY row
 * `seq \t event_id \t key_id \t prev_hash \t hash \t canonical…` (bytes `[0, end)` of `row`).
 * Per row it allocates nothing on the happy path: this runs a million times per verification.
 */
class ChainWalk {
  expected = 1;
  checked = 0;
  found: Found | null = null;
  /** the previous seal's hash (hex bytes), overwritten in place */
  private readonly prev = Buffer.from(GENESIS_HASH, "latin1");
  private keyIdBuf = Buffer.alloc(0);
  private keyIndex = -1;
  private key: KeyObject | null = null;

  constructor(
    private readonly keys: AuditKeyRing,
    private readonly workers: HmacWorkers | null,
  ) {}

  check(row: Buffer, end: number): boolean {
    if (this.workers && this.workers.failedSeq !== null) return false;
    this.checked++;
    let i = 0;
    let seq = 0;
    for (; i < end && row[i] !== TAB; i++) seq = seq * 10 + (row[i]! - 48);
    const t1 = i;
    for (i = t1 + 1; i < end && row[i] !== TAB; i++);
    const t2 = i;
    // key ids are 16 characters and hashes 64: expect the tabs there, look for them otherwise.
    let t3 = t2 + 17;
    let t4 = t3 + 65;
    let t5 = t4 + 65;
    if (row[t3] !== TAB || row[t4] !== TAB || row[t5] !== TAB) {
      t3 = row.indexOf(TAB, t2 + 1);
      t4 = row.indexOf(TAB, t3 + 1);
      t5 = row.indexOf(TAB, t4 + 1);
    }
    if (seq !== this.expected) return this.stop(row, -1, -1, String(this.expected), "seq_gap");
    const prev = this.prev;
    if (t4 - t3 - 1 !== 64) return this.stop(row, t1, t2, String(seq), "prev_hash_mismatch");
    for (let k = 0; k < 64; k++) {
      if (row[t3 + 1 + k] !== prev[k]) return this.stop(row, t1, t2, String(seq), "prev_hash_mismatch");
    }
    if (!this.sameKey(row, t2 + 1, t3)) {
      const k = this.keys.byId.get(row.toString("latin1", t2 + 1, t3));
      if (!k) return this.stop(row, t1, t2, String(seq), "unknown_key");
      this.key = k.object;
      this.keyIndex = this.workers?.keyIndexOf(k.id) ?? -1;
      this.keyIdBuf = Buffer.from(row.subarray(t2 + 1, t3));
    }
    // canonical = "1\t<id>\t…": a NULL id (\N) means the LEFT JOIN found no event.
    if (row[t5 + 3] === BACKSLASH && row[t5 + 4] === CAPITAL_N)
      return this.stop(row, t1, t2, String(seq), "event_missing");
    if (t5 - t4 - 1 !== 64 || t5 + 1 > end) return this.stop(row, t1, t2, String(seq), "event_changed");
    if (this.workers) {
      // prev_hash (just checked equal to the previous hash) \t hash \t canonical: one copy.
      this.workers.add(seq, this.keyIndex, row, t3 + 1, end);
    } else {
      const mac = createHmac("sha256", this.key!)
        .update(prev)
        .update(row.subarray(t5 + 1, end))
        .digest("hex");
      if (row.toString("latin1", t4 + 1, t5) !== mac) return this.stop(row, t1, t2, String(seq), "event_changed");
    }
    for (let k = 0; k < 64; k++) prev[k] = row[t4 + 1 + k]!;
    this.expected++;
    return true;
  }

  private sameKey(row: Buffer, from: number, to: number): boolean {
    const id = this.keyIdBuf;
    if (!this.key || to - from !== id.length) return false;
    for (let k = 0; k < id.length; k++) if (row[from + k] !== id[k]) return false;
    return true;
  }

  private stop(row: Buffer, t1: number, t2: number, seq: string, reason: BreakReason): false {
    this.found = { seq, eventId: t1 < 0 ? null : row.toString("latin1", t1 + 1, t2), reason };
    return false;
  }
}

export async function verifyAuditChain(
  client: Pick<pg.ClientBase, "query">,
  chain: string,
  opts: { keys?: AuditKeyRing; range?: number; threads?: number } = {},
): Promise<VerifyResult> {
  const started = performance.now();
  const keys = opts.keys ?? keyRing();
  const range = Math.max(1, Math.floor(opts.range ?? VERIFY_RANGE));
  const lit = pg.escapeLiteral(chain);
  let workers: HmacWorkers | null = null;

  // Pin the index walk (see PLAN_SETTINGS) without leaving the settings on the caller's
  // transaction: the savepoint is rolled back afterwards (this function only reads).
  await client.query("SAVEPOINT audit_verify");
  try {
    await client.query(PLAN_SETTINGS);
    const head = await client.query<{ seq: string; hash: string }>(
      `SELECT seq, hash FROM audit_seals WHERE chain = $1 ORDER BY seq DESC LIMIT 1`,
      [chain],
    );
    const headSeq = head.rows[0] ? Number(head.rows[0].seq) : 0;
    const threads = opts.threads ?? (headSeq > WORKER_THRESHOLD ? Math.min(2, availableParallelism()) : 0);
    if (threads > 0) workers = new HmacWorkers(keys, threads);
    const walk = new ChainWalk(keys, workers);
    for (let from = 0; from < headSeq && !walk.found && workers?.failedSeq == null; from += range) {
      await copyOutRows(
        client,
        `SELECT s.seq, s.event_id, s.key_id, s.prev_hash, s.hash, ${canonicalColumns("e")}
           FROM audit_seals s LEFT JOIN audit_events e ON e.id = s.event_id
          WHERE s.chain = ${lit} AND s.seq > ${from} AND s.seq <= ${from + range}
          ORDER BY s.seq`,
        (row, end) => walk.check(row, end),
      );
    }
    // The walk stops at the head it read first; seals with a higher seq mean a gap at the end
    // of the walk (or seals appended meanwhile, which the next verification covers).
    if (!walk.found && walk.expected <= headSeq && !workers?.failedSeq) {
      walk.found = { seq: String(walk.expected), eventId: null, reason: "seq_gap" };
    }
    let found = walk.found as Found | null;
    let checked = walk.checked;
    // An HMAC that failed on a worker before the main thread's first break is the first break.
    const failed = workers ? await workers.settle() : null;
    if (failed !== null && (!found || failed < Number(found.seq))) {
      const s = await client.query<{ event_id: string }>(
        `SELECT event_id FROM audit_seals WHERE chain = $1 AND seq = $2`,
        [chain, failed],
      );
      found = { seq: String(failed), eventId: s.rows[0]?.event_id ?? null, reason: "event_changed" };
      checked = failed;
    }

    const counts = await client.query<{ events: string; seals: string }>(
      `SELECT (SELECT count(*) FROM audit_events WHERE ${chain === "" ? "tenant_id IS NULL" : "tenant_id = $1"}) AS events,
              ${found ? `(SELECT count(*) FROM audit_seals WHERE chain = $1)` : "0"} AS seals`,
      chain === "" && !found ? [] : [chain],
    );
    let at: string | null = null;
    if (found?.eventId) {
      const ev = await client.query<{ at: Date }>(`SELECT at FROM audit_events WHERE id = $1`, [found.eventId]);
      at = ev.rows[0]?.at.toISOString() ?? null;
    }
    const seals = found ? Number(counts.rows[0]!.seals) : checked;
    return {
      ok: found === null,
      chain,
      checked,
      brokenAt: found ? { ...found, at } : null,
      unsealed: Math.max(0, Number(counts.rows[0]!.events) - seals),
      headSeq: head.rows[0]?.seq ?? null,
      headHash: head.rows[0]?.hash ?? null,
      verifiedAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await workers?.close();
    await client.query("ROLLBACK TO SAVEPOINT audit_verify; RELEASE SAVEPOINT audit_verify").catch(() => {});
  }
}
