import type pg from "pg";
import { hashPassword, verifyPassword } from "../auth/password";
import type { Role } from "../auth/principal";

/** Demo mode's tenants and users (ARCHITECTURE.md §5). Safe to run on every start. */
export const demoTenants = [
  { id: "agency-a", name: "Agency A" },
  { id: "agency-b", name: "Agency B" },
] as const;

export const demoUsers: { username: string; role: Role; tenantId: string | null }[] = [
  { username: "admin", role: "admin", tenantId: null },
  { username: "operator-a", role: "operator", tenantId: "agency-a" },
  { username: "operator-b", role: "operator", tenantId: "agency-b" },
  { username: "vet-a", role: "veteran", tenantId: "agency-a" },
  { username: "vet-b", role: "veteran", tenantId: "agency-b" },
];

export async function seedDemo(db: Pick<pg.Pool, "query">, password: string): Promise<void> {
  for (const t of demoTenants) {
    await db.query(`INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, [t.id, t.name]);
    // A demo rate limit (tenant-wide: gateway and intake) only where none is set, so an admin's change is kept.
    await db.query(
      `INSERT INTO rate_limits (tenant_id, scope, rps, burst, updated_by) VALUES ($1, '*', 50, 100, 'demo-seed')
       ON CONFLICT (tenant_id, scope) DO NOTHING`,
      [t.id],
    );
  }
  for (const u of demoUsers) {
    const existing = await db.query<{ password_hash: string }>(`SELECT password_hash FROM users WHERE username = $1`, [
      u.username,
    ]);
    const row = existing.rows[0];
    if (row && (await verifyPassword(row.password_hash, password))) continue;
    const hash = await hashPassword(password);
    await db.query(
      `INSERT INTO users (id, username, password_hash, role, tenant_id) VALUES (gen_random_uuid(), $1, $2, $3, $4)
       ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, tenant_id = EXCLUDED.tenant_id`,
      [u.username, hash, u.role, u.tenantId],
    );
  }
}
