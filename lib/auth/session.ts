import { getServerSession } from "next-auth";
import { authOptions } from "./next-auth-options";
import type { Principal } from "./principal";

/** The signed-in browser user for server components and server actions (null when signed out). */
export async function currentPrincipal(): Promise<Principal | null> {
  const session = (await getServerSession(authOptions)) as { principal?: Principal | null } | null;
  return session?.principal ?? null;
}
