import type pg from "pg";
import type { BucketLimit } from "./token-bucket";

/**
 * Leasing tokens from the shared bucket: the row `rate_buckets(tenant_id, scope)` is the one truth
 * every replica draws from. One statement refills the row by the time elapsed since it was last
 * touched (× rps, capped at burst), grants `min(requested, floor(available))` and stores the rest.
 *
 * The row is locked (`FOR UPDATE`) by the statement itself, so two replicas leasing at the same
 * moment are serialised by PostgreSQL and can never both spend the same tokens: whatever the
 * replicas do locally, the total granted over any interval is at most `burst + rps × seconds`.
 * Time is the database's clock, so replicas with skewed clocks still agree on the refill.
 */

export interface BucketKey {
  tenantId: string;
  /** "*" for tenant-wide, or a service name */
  scope: string;
}

export interface LeaseResult {
  granted: number;
  /** tokens left in the shared bucket after this grant (fractional) */
  remaining: number;
}

type Queryable = Pick<pg.Pool, "query">;

// `now` is truncated to milliseconds because refilled_at is timestamptz(3): storing exactly the
// instant the refill was computed for means no sliver of time is ever counted twice.
// `synchronous_commit = off` for this statement's own transaction only: a lease need not wait for
// the WAL flush (8 ms → 1 ms here); a database crash could forget the last few ms of leases, which
// errs on admitting a few extra requests once, never on blocking. Do not call this inside a
// transaction of your own: the setting would apply to all of it.
const LEASE_SQL = `
WITH cur AS (
  SELECT tokens, refilled_at, date_trunc('milliseconds', clock_timestamp()) AS now
  FROM rate_buckets WHERE tenant_id = $1 AND scope = $2
  FOR UPDATE
), avail AS (
  SELECT LEAST($4::float8, tokens + GREATEST(0, EXTRACT(EPOCH FROM (now - refilled_at))::float8) * $3::float8) AS tokens,
         now
  FROM cur
), grant_ AS (
  SELECT tokens, now, LEAST($5::int, floor(tokens)::int) AS granted FROM avail
), upd AS (
  UPDATE rate_buckets b SET tokens = g.tokens - g.granted, refilled_at = g.now
  FROM grant_ g
  WHERE b.tenant_id = $1 AND b.scope = $2
  RETURNING b.tokens
), async_commit AS (
  SELECT set_config('synchronous_commit', 'off', true)
)
SELECT g.granted, upd.tokens AS remaining FROM grant_ g, upd, async_commit`;

// A bucket nobody has leased from yet starts full (the upsert of a limit also resets it to full).
const CREATE_SQL = `
INSERT INTO rate_buckets (tenant_id, scope, tokens, refilled_at)
VALUES ($1, $2, $3::float8 - LEAST($4::int, floor($3::float8)::int), date_trunc('milliseconds', clock_timestamp()))
ON CONFLICT (tenant_id, scope) DO NOTHING
RETURNING tokens`;

export async function leaseTokens(
  db: Queryable,
  key: BucketKey,
  limit: BucketLimit,
  requested: number,
): Promise<LeaseResult> {
  const want = Math.max(0, Math.floor(requested));
  for (let attempt = 0; attempt < 2; attempt++) {
    const { rows } = await db.query<{ granted: number; remaining: number }>(LEASE_SQL, [
      key.tenantId,
      key.scope,
      limit.rps,
      limit.burst,
      want,
    ]);
    if (rows[0]) return { granted: rows[0].granted, remaining: rows[0].remaining };
    const created = await db.query<{ tokens: number }>(CREATE_SQL, [key.tenantId, key.scope, limit.burst, want]);
    if (created.rows[0]) {
      return { granted: Math.min(want, Math.floor(limit.burst)), remaining: created.rows[0].tokens };
    }
    // Another replica created the row between our two statements: lease from it.
  }
  throw new Error(`rate bucket ${key.tenantId}/${key.scope} could not be leased`);
}
