import { randomBytes } from "node:crypto";
import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { listMigrations, migrate } from "./migrator";
import { provisionDatabase } from "./provision";

let urls: { ownerUrl: string; appUrl: string };
const suffix = randomBytes(3).toString("hex");
const appRole = `mig_app_${suffix}`;

beforeAll(async () => {
  urls = await provisionDatabase(inject("superuserDatabaseUrl"), {
    database: `mig_${suffix}`,
    owner: { name: `mig_owner_${suffix}`, password: "owner-pass" },
    app: { name: appRole, password: "app-pass" },
  });
});

async function query(url: string, sql: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

describe("migrator", () => {
  it("applies every migration once, even when several processes start at the same moment", async () => {
    const results = await Promise.all([1, 2, 3].map(() => migrate(urls.ownerUrl, { appRole })));
    const total = (await listMigrations(path.join(process.cwd(), "prisma", "migrations"))).length;
    expect(results.map((r) => r.applied.length).reduce((a, b) => a + b, 0)).toBe(total);
    const recorded = await query(urls.ownerUrl, `SELECT count(*)::int AS n FROM "_prisma_migrations"`);
    expect(recorded.rows[0].n).toBe(total);
    const again = await migrate(urls.ownerUrl, { appRole });
    expect(again.applied).toEqual([]);
  });

  it("lets the app role read and write rows but not change the schema, rewrite the audit trail or see migration history", async () => {
    await query(urls.appUrl, `INSERT INTO tenants (id, name) VALUES ('x-${suffix}', 'X')`);
    await expect(query(urls.appUrl, `CREATE TABLE evil (id int)`)).rejects.toThrow(/permission denied/);
    await expect(query(urls.appUrl, `DROP TABLE claims`)).rejects.toThrow(/must be owner/);
    await expect(query(urls.appUrl, `SELECT * FROM "_prisma_migrations"`)).rejects.toThrow(/permission denied/);
    await query(
      urls.appUrl,
      `SET app.tenant_id = 'x-${suffix}';
       INSERT INTO audit_events (tenant_id, actor, action, outcome) VALUES ('x-${suffix}', 'a', 'test', 'success')`,
    );
    await expect(query(urls.appUrl, `UPDATE audit_events SET outcome = 'failure'`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(query(urls.appUrl, `DELETE FROM audit_events`)).rejects.toThrow(/permission denied/);
    await expect(query(urls.appUrl, `TRUNCATE audit_events`)).rejects.toThrow(/permission denied/);
    for (const sql of [`UPDATE audit_seals SET hash = 'x'`, `DELETE FROM audit_seals`, `TRUNCATE audit_seals`]) {
      await expect(query(urls.appUrl, sql)).rejects.toThrow(/permission denied/);
    }
    const role = await query(urls.appUrl, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`);
    expect(role.rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });
  });

  it("refuses to run when an applied migration's SQL was edited afterwards", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "mig-"));
    await cp(path.join(process.cwd(), "prisma", "migrations"), dir, { recursive: true });
    const [first] = await listMigrations(dir);
    await writeFile(path.join(dir, first!.name, "migration.sql"), `${first!.sql}\n-- edited`);
    await expect(migrate(urls.ownerUrl, { dir })).rejects.toThrow(/checksum mismatch/);
  });

  it("rolls a failing migration back entirely and records nothing for it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "mig-"));
    await cp(path.join(process.cwd(), "prisma", "migrations"), dir, { recursive: true });
    const bad = path.join(dir, "29990101000000_broken");
    await (await import("node:fs/promises")).mkdir(bad);
    await writeFile(path.join(bad, "migration.sql"), `CREATE TABLE half_done (id int);\nSELECT no_such_function();`);
    await expect(migrate(urls.ownerUrl, { dir })).rejects.toThrow(/29990101000000_broken failed/);
    const t = await query(urls.ownerUrl, `SELECT to_regclass('half_done') AS t`);
    expect(t.rows[0].t).toBeNull();
    const r = await query(
      urls.ownerUrl,
      `SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE migration_name LIKE '2999%'`,
    );
    expect(r.rows[0].n).toBe(0);
  });
});
