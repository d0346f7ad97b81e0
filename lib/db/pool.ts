import pg from "pg";
import { setting } from "../config/env";

// bigint/int8 → JS string is pg's default; we keep it (ids never lose precision).
const globalForPool = globalThis as unknown as { hmsPool?: pg.Pool };

export function createPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
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

/** The process-wide pool for the app role (DATABASE_URL). */
export function pool(): pg.Pool {
  if (!globalForPool.hmsPool) {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error("DATABASE_URL is not set");
    globalForPool.hmsPool = createPool(url, setting("HMS_DB_POOL_SIZE"));
  }
  return globalForPool.hmsPool;
}

/** Runs `fn` in one transaction on one connection; rolls back on any error. */
export async function withTransaction<T>(p: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await p.connect();
  let broken = false;
  try {
    await client.query("BEGIN");
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
    client.release(broken);
  }
}
