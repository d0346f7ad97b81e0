import type { Principal } from "../auth/principal";

/**
 * Which claims a caller may see, as a Prisma `where` fragment: a veteran their own, an operator
 * (or tenant admin) their agency's, a global admin every agency's. Anything else is "not found"
 * (404, never 403, so ids of other people's claims are not confirmed).
 */
export function claimScope(p: Principal): { veteranId?: string; tenantId?: string } {
  if (p.role === "veteran") return { veteranId: p.userId };
  if (p.tenantId) return { tenantId: p.tenantId };
  if (p.role === "admin") return {};
  return { tenantId: "\u0000none" };
}
