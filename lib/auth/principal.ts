import { z } from "zod";

export const roles = ["veteran", "operator", "admin"] as const;
export const roleSchema = z.enum(roles);
export type Role = z.infer<typeof roleSchema>;

/** Who is calling: the same shape whether they came with a bearer JWT or a browser session. */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** null only for global admins */
  tenantId: string | null;
}
