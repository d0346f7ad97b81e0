import type { Caller } from "../auth/principal";
import type { GatewayAccess } from "../registry/service-schema";

/**
 * Who may call a service through the gateway (ARCHITECTURE.md §7): a pure decision from the
 * service's policy and the caller, made after the service was found in the caller's own tenant
 * (another tenant's service is a 404 before this is asked). A user needs a listed role; a service
 * token needs its service's name listed, or `"*"`.
 */
export function mayCallService(access: GatewayAccess, caller: Caller): boolean {
  if (caller.kind === "service") {
    return access.services.includes("*") || access.services.includes(caller.serviceName);
  }
  return access.roles.includes(caller.role);
}

/**
 * The caller as the gateway names it (access log, rate limiter's per-caller key, identity cache):
 * `user:<user id>` or `service:<service name>`.
 */
export function callerKeyOf(caller: Caller): string {
  return caller.kind === "service" ? `service:${caller.serviceName}` : `user:${caller.userId}`;
}
