import { db } from "../db/prisma";
import { AppError } from "../http/app-error";
import { dummyPasswordHash, verifyPassword } from "./password";
import type { Principal } from "./principal";

/** Checks a username and password; the one path both the token endpoint and next-auth use. */
export async function authenticate(username: string, password: string): Promise<Principal> {
  const user = await db().user.findUnique({
    where: { username },
    select: { id: true, username: true, role: true, tenantId: true, passwordHash: true },
  });
  const ok = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), password);
  if (!user || !ok) throw new AppError("invalid_credentials", "Unknown username or wrong password.");
  return { userId: user.id, username: user.username, role: user.role, tenantId: user.tenantId };
}
