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

/** A registered service calling HMS-SVC with a service token (issue 5): one tenant, some queues. */
export interface ServicePrincipal {
  kind: "service";
  tokenId: string;
  tenantId: string;
  serviceId: string;
  serviceName: string;
  /** queue names the token may use; empty = every queue of its tenant */
  queues: string[];
}

/** Whoever called a route that accepts both users and services. */
export type Caller = ({ kind: "user" } & Principal) | ServicePrincipal;

/** The audit trail's actor name for a caller. */
export function actorOf(c: Caller): string {
  return c.kind === "service" ? `service:${c.serviceName}` : c.username;
}
