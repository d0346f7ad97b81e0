import { systemPool } from "../db/pool";
import { AppError } from "../http/app-error";
import { dummyPasswordHash, verifyPassword } from "./password";
import type { Principal, Role } from "./principal";

/**
 * Checks a username and password; the one path both the token endpoint and next-auth use. The
 * account is looked up in the all-tenants scope: before sign-in there is no tenant to scope to.
 */
export async function authenticate(username: string, password: string): Promise<Principal> {
  const { rows } = await systemPool().query<{
    id: string;
    username: string;
    role: Role;
    tenant_id: string | null;
    password_hash: string;
  }>(`SELECT id, username, role, tenant_id, password_hash FROM users WHERE username = $1`, [username]);
  const user = rows[0];
  const ok = await verifyPassword(user?.password_hash ?? (await dummyPasswordHash()), password);
  if (!user || !ok) throw new AppError("invalid_credentials", "Unknown username or wrong password.");
  return { userId: user.id, username: user.username, role: user.role, tenantId: user.tenant_id };
}
