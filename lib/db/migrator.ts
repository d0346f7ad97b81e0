import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";

/**
 * Applies prisma/migrations/<name>/migration.sql in order, each in its own transaction, under an
 * advisory lock (so several processes starting at once apply each migration exactly once), and
 * records them in `_prisma_migrations` with the same columns and checksum Prisma uses.
 * We need our own because `prisma migrate deploy` fails through the pg adapter (STACK.md).
 */
const LOCK_ID = 72707369; // arbitrary, fixed: "HMS" migrations

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

export async function listMigrations(dir: string): Promise<{ name: string; sql: string; checksum: string }[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const out = [];
  for (const name of names) {
    const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
    out.push({ name, sql, checksum: createHash("sha256").update(sql).digest("hex") });
  }
  return out;
}

export async function migrate(
  connectionString: string,
  opts: { dir?: string; appRole?: string; log?: (m: string) => void } = {},
): Promise<MigrationResult> {
  const dir = opts.dir ?? path.join(process.cwd(), "prisma", "migrations");
  const log = opts.log ?? (() => {});
  const client = new pg.Client({ connectionString });
  await client.connect();
  const result: MigrationResult = { applied: [], skipped: [] };
  try {
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_ID]);
    // Row-level security is FORCED for the owner too: a migration that moves data works across
    // every tenant, explicitly (a no-op before the RLS migration exists).
    await client.query(`SET app.tenant_id = '*'`);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const done = await client.query<{ migration_name: string; checksum: string }>(
      `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const applied = new Map(done.rows.map((r) => [r.migration_name, r.checksum]));
    for (const m of await listMigrations(dir)) {
      const prior = applied.get(m.name);
      if (prior) {
        if (prior !== m.checksum) {
          throw new Error(`Migration ${m.name} was changed after it was applied (checksum mismatch).`);
        }
        result.skipped.push(m.name);
        continue;
      }
      log(`applying migration ${m.name}`);
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
           VALUES ($1, $2, now(), $3, 1)`,
          [randomUUID(), m.checksum, m.name],
        );
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`Migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      result.applied.push(m.name);
    }
    if (opts.appRole) await grantAppRole(client, opts.appRole);
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [LOCK_ID]).catch(() => {});
    await client.end();
  }
  return result;
}

/**
 * The app connects as its own non-superuser role: it may read and write rows, never change the
 * schema. Re-run after every migration so new tables are covered.
 */
export async function grantAppRole(client: pg.Client, role: string): Promise<void> {
  const r = pg.escapeIdentifier(role);
  await client.query(`GRANT USAGE ON SCHEMA public TO ${r}`);
  await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${r}`);
  await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r}`);
  await client.query(`REVOKE ALL ON TABLE "_prisma_migrations" FROM ${r}`);
  // The audit trail is append-only for the app: it may add events, never change or remove them.
  // Likewise its hash chain (audit_seals), which only the worker's sealer appends to.
  await client.query(`REVOKE UPDATE, DELETE, TRUNCATE ON TABLE audit_events, audit_seals FROM ${r}`);
}
