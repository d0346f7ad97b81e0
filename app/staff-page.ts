import { redirect } from "next/navigation";
import type { Principal } from "@/lib/auth/principal";
import { currentPrincipal } from "@/lib/auth/session";
import { tenantIds } from "@/lib/tenancy/tenant-ids";

/** The signed-in user of a page; a signed-out visitor is sent to sign in and back to `path`. */
export async function signedInOrRedirect(path: string): Promise<Principal> {
  const principal = await currentPrincipal();
  if (!principal) redirect(`/signin?callbackUrl=${encodeURIComponent(path)}`);
  return principal;
}

/**
 * The agency choice of an operators' page: a global admin picks among every agency; an operator
 * or agency admin sees only their own (no picker).
 */
export async function agencyChoice(principal: Principal): Promise<{ canPickTenant: boolean; tenants: string[] }> {
  const globalAdmin = principal.role === "admin" && principal.tenantId === null;
  return { canPickTenant: globalAdmin, tenants: globalAdmin ? await tenantIds() : [] };
}
