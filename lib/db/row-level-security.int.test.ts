import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createAgency } from "../testing/fixtures";
import { createPool, systemPool } from "./pool";
import { ALL_TENANTS, withAllTenants, withTenant } from "./tenant-scope";

/**
 * Tenant isolation is enforced by PostgreSQL (decision 017), so these tests talk to it directly:
 * the catalog must show forced row-level security on every tenant-owned table, and the policies
 * must hold for the app role and the owner alike, whatever a query forgets to filter.
 */
const onePool = createPool(process.env.DATABASE_URL!, 1); // one connection: a leaked setting would show
afterAll(() => onePool.end());

async function addService(tenant: string): Promise<string> {
  const id = randomUUID();
  await systemPool().query(`INSERT INTO services (id, tenant_id, name) VALUES ($1, $2, $3)`, [
    id,
    tenant,
    `rls-${id.slice(0, 8)}`,
  ]);
  return id;
}

describe("row-level security catalog", () => {
  it("forces RLS with an app.tenant_id policy on every table that has a tenant_id column", async () => {
    const { rows } = await systemPool().query<{
      table: string;
      enabled: boolean;
      forced: boolean;
      policies: string[] | null;
    }>(
      `SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
              (SELECT array_agg(pg_get_expr(p.polqual, p.polrelid) || ' / ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''))
                 FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY 1`,
    );
    // The tables this issue is about are among them (a renamed column would empty the list).
    expect(rows.map((r) => r.table)).toEqual(
      expect.arrayContaining(["audit_events", "claims", "documents", "document_chunks", "queue_messages", "services"]),
    );
    const unprotected = rows.filter(
      (r) =>
        !r.enabled ||
        !r.forced ||
        !r.policies?.some(
          (p) => /tenant_id = current_setting\('app\.tenant_id'::text, true\)/.test(p) && p.includes(" / "),
        ),
    );
    expect(unprotected.map((r) => r.table)).toEqual([]);
  });

  it("connects as a role that is neither superuser nor BYPASSRLS", async () => {
    const { rows } = await onePool.query(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`);
    expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });
  });
});

describe("row-level security policies", () => {
  it("shows a connection without a tenant no tenant-owned rows at all", async () => {
    const a = await createAgency();
    await addService(a.tenantId);
    const { rows } = await onePool.query(`SELECT count(*)::int AS n FROM services WHERE tenant_id = $1`, [a.tenantId]);
    expect(rows[0].n).toBe(0);
    const all = await systemPool().query(`SELECT count(*)::int AS n FROM services WHERE tenant_id = $1`, [a.tenantId]);
    expect(all.rows[0].n).toBe(1);
  });

  it("shows withTenant only its tenant's rows, even to a query that forgets the filter", async () => {
    const [a, b] = [await createAgency(), await createAgency()];
    const [sa, sb] = [await addService(a.tenantId), await addService(b.tenantId)];
    const seen = await withTenant(a.tenantId, async (c) =>
      (await c.query(`SELECT id FROM services`)).rows.map((r) => r.id),
    );
    expect(seen).toContain(sa);
    expect(seen).not.toContain(sb);
    const byId = await withTenant(
      a.tenantId,
      async (c) => (await c.query(`SELECT id FROM services WHERE id = $1`, [sb])).rows,
    );
    expect(byId).toEqual([]);
  });

  it("refuses to write a row into another tenant, and to move a row there", async () => {
    const [a, b] = [await createAgency(), await createAgency()];
    const sa = await addService(a.tenantId);
    await expect(
      withTenant(a.tenantId, (c) =>
        c.query(`INSERT INTO services (id, tenant_id, name) VALUES (gen_random_uuid(), $1, 'sneaky')`, [b.tenantId]),
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(
      withTenant(a.tenantId, (c) => c.query(`UPDATE services SET tenant_id = $2 WHERE id = $1`, [sa, b.tenantId])),
    ).rejects.toThrow(/row-level security/);
    // Another tenant's rows are simply not there to update or delete.
    const sb = await addService(b.tenantId);
    const upd = await withTenant(a.tenantId, (c) =>
      c.query(`UPDATE services SET description = 'x' WHERE id = $1`, [sb]),
    );
    const del = await withTenant(a.tenantId, (c) => c.query(`DELETE FROM services WHERE id = $1`, [sb]));
    expect([upd.rowCount, del.rowCount]).toEqual([0, 0]);
  });

  it("ends the tenant setting with the transaction: the pooled connection carries nothing over", async () => {
    const a = await createAgency();
    await addService(a.tenantId);
    const inside = await withTenant(
      a.tenantId,
      async (c) => (await c.query(`SELECT count(*)::int AS n FROM services`)).rows[0].n as number,
      onePool,
    );
    expect(inside).toBeGreaterThan(0);
    const after = await onePool.query(
      `SELECT count(*)::int AS n, current_setting('app.tenant_id', true) AS t FROM services`,
    );
    expect(after.rows[0].n).toBe(0);
    expect(after.rows[0].t ?? "").toBe("");
    // Also after a transaction that failed.
    await expect(withTenant(a.tenantId, (c) => c.query(`SELECT 1/0`), onePool)).rejects.toThrow();
    expect((await onePool.query(`SELECT count(*)::int AS n FROM services`)).rows[0].n).toBe(0);
  });

  it("lets the all-tenants scope see every tenant, and refuses withTenant('*')", async () => {
    const [a, b] = [await createAgency(), await createAgency()];
    const [sa, sb] = [await addService(a.tenantId), await addService(b.tenantId)];
    const ids = await withAllTenants(async (c) =>
      (await c.query(`SELECT id FROM services WHERE id = ANY($1::uuid[])`, [[sa, sb]])).rows.map((r) => r.id),
    );
    expect(ids.sort()).toEqual([sa, sb].sort());
    expect(() => withTenant(ALL_TENANTS, async () => 1)).toThrow();
  });

  it("binds the table owner too (FORCE): without the setting the owner sees no tenant rows", async () => {
    const a = await createAgency();
    await addService(a.tenantId);
    const owner = new pg.Client({ connectionString: process.env.DATABASE_OWNER_URL });
    await owner.connect();
    try {
      const { rows } = await owner.query(`SELECT count(*)::int AS n FROM services WHERE tenant_id = $1`, [a.tenantId]);
      expect(rows[0].n).toBe(0);
    } finally {
      await owner.end();
    }
  });
});
