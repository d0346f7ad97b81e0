import pg from "pg";
import { setting } from "../config/env";

// bigint/int8 → JS string is pg's default; we keep it (ids never lose precision).
const globalForPool = globalThis as unknown as { hmsPool?: pg.Pool; hmsSystemPool?: pg.Pool };

/**
 * `allTenants`: every connection of the pool starts with app.tenant_id = '*' (the system scope of
 * row-level security, decision 017). Only systemPool() asks for it.
 */
export function createPool(connectionString: string, max = 10, opts: { allTenants?: boolean } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    ...(opts.allTenants ? { options: "-c app.tenant_id=*" } : {}),
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A query must never hang a request forever when the server goes away mid-flight.
    query_timeout: 60_000,
  });
  // An idle client losing its connection (e.g. PostgreSQL restart) must not crash the process.
  pool.on("error", () => {});
  return pool;
}

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set");
  return url;
}

/**
 * The process-wide pool for tenant-facing work (app role, DATABASE_URL). Its connections carry
 * no tenant: under row-level security a query sees no tenant-owned row unless it runs inside
 * withTenant() (lib/db/tenant-scope.ts).
 */
export function pool(): pg.Pool {
  globalForPool.hmsPool ??= createPool(databaseUrl(), setting("HMS_DB_POOL_SIZE"));
  return globalForPool.hmsPool;
}

/**
 * The pool for work that serves every tenant at once and acts for none of them: the worker's
 * loops, the gateway's routing table and breakers, the shared rate limiter, traffic roll-ups,
 * metrics, sign-in lookups. Its connections start in the all-tenants scope. Request handlers
 * never use it for a caller's data: they use withTenant(), or the audited admin path.
 */
export function systemPool(): pg.Pool {
  globalForPool.hmsSystemPool ??= createPool(databaseUrl(), setting("HMS_DB_POOL_SIZE"), { allTenants: true });
  return globalForPool.hmsSystemPool;
}

/**
 * While a client is checked out, pg-pool removes its own 'error' listener. If the server ends
 * the session between two queries of a transaction (a restart: 57P01), the client emits 'error'
 * with nobody listening, and Node kills the process. This listener keeps it alive — the next
 * query fails and the request answers 503 — and marks the client so it is discarded, not reused.
 * Returns the function that detaches it and says whether the connection broke.
 */
export function guardCheckedOut(client: pg.PoolClient): () => boolean {
  let broke = false;
  const onError = () => {
    broke = true;
  };
  client.on("error", onError);
  return () => {
    client.off("error", onError);
    return broke;
  };
}

/**
 * Runs `fn` in one transaction on one connection; rolls back on any error. `begin` may carry
 * statements sent with BEGIN in the same round trip (the tenant scope, lib/db/tenant-scope.ts).
 */
export async function withTransaction<T>(
  p: pg.Pool,
  fn: (c: pg.PoolClient) => Promise<T>,
  begin = "BEGIN",
): Promise<T> {
  const client = await p.connect();
  const unguard = guardCheckedOut(client);
  let broken = false;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    try {
      await client.query("ROLLBACK");
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    if (unguard()) broken = true;
    client.release(broken);
  }
}

/** Anything that runs a query: a pool, or a (tenant-scoped) transaction's client. */
export type Queryable = Pick<pg.Pool, "query">;
