import { db } from "../db/prisma";

/**
 * Every agency's id, for a global admin's agency pickers. Empty when the database cannot be read:
 * the page around the picker reports the outage itself.
 */
export async function tenantIds(): Promise<string[]> {
  try {
    const rows = await db().tenant.findMany({ select: { id: true }, orderBy: { id: "asc" } });
    return rows.map((r) => r.id);
  } catch {
    return [];
  }
}
