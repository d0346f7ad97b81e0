import type { GatewayAccess, GatewayRole } from "../queries/registry";

/** The gateway's caller roles as people read them. */
export const roleNames: Record<GatewayRole, string> = { veteran: "Veterans", operator: "Operators", admin: "Admins" };

/**
 * A service's gateway policy in plain words, e.g. "Operators, admins and every service token of
 * the agency may call it through the gateway." (the service form and the service page).
 */
export function describeGatewayAccess(access: GatewayAccess): string {
  const people = access.roles.map((r) => roleNames[r].toLowerCase());
  const tokens = access.services.includes("*")
    ? ["every service token of the agency"]
    : access.services.length > 0
      ? [`the service tokens of ${access.services.join(", ")}`]
      : [];
  const who = [...people, ...tokens];
  if (who.length === 0) return "Nobody may call it through the gateway.";
  const text = who.length === 1 ? who[0]! : `${who.slice(0, -1).join(", ")} and ${who.at(-1)!}`;
  return `${text.charAt(0).toUpperCase()}${text.slice(1)} may call it through the gateway.`;
}
