import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client";
import { pool } from "./pool";

function create() {
  return new PrismaClient({
    adapter: new PrismaPg(pool()),
    // Secret columns never leave the database unless a query asks for them by name.
    omit: { user: { passwordHash: true }, signingKey: { privateJwk: true } },
  });
}

export type Db = ReturnType<typeof create>;

const globalForPrisma = globalThis as unknown as { hmsPrisma?: Db };

/** The one Prisma client of the process (shares the pg pool with raw-SQL paths). */
export function db(): Db {
  globalForPrisma.hmsPrisma ??= create();
  return globalForPrisma.hmsPrisma;
}
