import type { Principal } from "../auth/principal";

/**
 * Which claims a caller may see, as a Prisma `where` fragment (ARCHITECTURE.md §5): a veteran
 * their own, an operator their agency's. Anyone else — admins included, until the audited
 * cross-tenant path exists — sees none, and a claim they cannot see is "not found" (404, never
 * 403, so other people's claim ids are not confirmed). `null` means "no claims at all".
 */
export function claimScope(p: Principal): { veteranId: string } | { tenantId: string } | null {
  if (p.role === "veteran") return { veteranId: p.userId };
  if (p.role === "operator" && p.tenantId) return { tenantId: p.tenantId };
  return null;
}
