import { randomBytes } from "node:crypto";
import { issueAccessToken } from "../auth/access-token";
import { hashPassword } from "../auth/password";
import type { Principal, Role } from "../auth/principal";
import { systemPool as pool } from "../db/pool";

/** Test fixtures: each test makes its own tenant and users, so files never depend on each other. */
export interface TestUser extends Principal {
  password: string;
  token: string;
}

export async function createTenant(prefix = "t"): Promise<string> {
  const id = `${prefix}-${randomBytes(4).toString("hex")}`;
  await pool().query(`INSERT INTO tenants (id, name) VALUES ($1, $2)`, [id, `Test ${id}`]);
  return id;
}

export async function createUser(role: Role, tenantId: string | null): Promise<TestUser> {
  const username = `${role}-${randomBytes(4).toString("hex")}`;
  const password = randomBytes(8).toString("hex");
  const { rows } = await pool().query<{ id: string }>(
    `INSERT INTO users (id, username, password_hash, role, tenant_id) VALUES (gen_random_uuid(), $1, $2, $3, $4) RETURNING id`,
    [username, await hashPassword(password), role, tenantId],
  );
  const principal: Principal = { userId: rows[0]!.id, username, role, tenantId };
  return { ...principal, password, token: await issueAccessToken(principal) };
}

/** A tenant with one veteran and one operator. */
export async function createAgency() {
  const tenantId = await createTenant();
  return {
    tenantId,
    veteran: await createUser("veteran", tenantId),
    operator: await createUser("operator", tenantId),
  };
}
