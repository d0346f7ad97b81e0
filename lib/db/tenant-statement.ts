import pg from "pg";
import { guardCheckedOut } from "./pool";

/**
 * One statement in one tenant-scoped transaction, in ONE round trip — the same mechanism as
 * withTenant() (lib/db/tenant-scope.ts: BEGIN, the transaction-local app.tenant_id that row-level
 * security reads, the work, COMMIT), sent as one simple-protocol query string:
 *
 *   BEGIN; SELECT set_config('app.tenant_id', '<tenant>', true); <statement>; COMMIT
 *
 * withTenant costs three round trips (BEGIN + setting, the statement, COMMIT); the queue's hot
 * path (send, lease, ack, nack: one statement each) measured ~40 % less CPU per call in one
 * (decision 019). The simple protocol carries no parameters, so `$n` placeholders are replaced
 * by literals here: strings through pg.escapeLiteral, finite numbers, booleans, NULL, and arrays
 * of those as ARRAY[…]. The statement text must not contain `$n` inside its own string literals.
 * If any part fails, the transaction is rolled back and the error rethrown.
 */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error("tenantStatement: a number parameter must be finite");
    return String(v);
  }
  if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
  if (typeof v === "string") return pg.escapeLiteral(v);
  if (Array.isArray(v)) return `ARRAY[${v.map(sqlLiteral).join(", ")}]`;
  throw new Error(`tenantStatement: unsupported parameter type ${typeof v}`);
}

export function inlineParams(sql: string, params: readonly unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= params.length) throw new Error(`tenantStatement: no parameter $${n}`);
    return sqlLiteral(params[i]);
  });
}

export async function tenantStatement<R extends pg.QueryResultRow = pg.QueryResultRow>(
  p: pg.Pool,
  tenantId: string,
  sql: string,
  params: readonly unknown[] = [],
): Promise<pg.QueryResult<R>> {
  if (!tenantId || tenantId === "*") throw new Error("tenantStatement needs one tenant id");
  const text = `BEGIN; SELECT set_config('app.tenant_id', ${pg.escapeLiteral(tenantId)}, true); ${inlineParams(sql, params)}; COMMIT`;
  const client = await p.connect();
  const unguard = guardCheckedOut(client);
  let broken = false;
  try {
    const results = (await client.query(text)) as unknown as pg.QueryResult<R>[];
    const r = results[2];
    if (!r) throw new Error("tenantStatement: the statement returned no result");
    return r;
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
