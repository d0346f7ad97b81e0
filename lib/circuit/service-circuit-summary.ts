import { failoverState } from "../gateway/routing-plan";
import type { CircuitStateName } from "./breaker";
import type { CircuitView } from "./circuit-queries";
import { effectiveStateSql } from "./effective-state-sql";

/**
 * A service's breakers in one line, for board tiles: how many are open, half-open or forced,
 * and whether traffic has failed over away from the primary region. The failover decision is
 * the gateway's own (`failoverState` of the routing plan), so the board says what the gateway
 * does rather than a second opinion of it.
 */

/** One instance as the board's page statement aggregates it (see SERVICE_BREAKERS_SQL). */
export interface InstanceBreaker {
  id: string;
  region: string;
  enabled: boolean;
  /** health status */
  status: string;
  circuit: CircuitStateName;
  forced: boolean;
}

export interface ServiceCircuitSummary {
  circuits: { open: number; halfOpen: number; forced: number };
  failover: boolean;
  /** the region traffic goes to (null: none can serve, or no instances) */
  activeRegion: string | null;
  /** why traffic left the primary region (null without failover) */
  failoverReason: string | null;
}

/**
 * A LATERAL subquery (alias `brk`, column `breakers`: a JSON array of InstanceBreaker, in no
 * particular order — failoverState orders regions itself) over the instances of the service
 * `svc.id`; circuits are joined by primary key.
 */
export function serviceBreakersLateral(svc: string): string {
  return `LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('id', i.id, 'region', i.region, 'enabled', i.enabled, 'status', i.status,
                                      'circuit', ${effectiveStateSql("c")}, 'forced', c.forced IS NOT NULL)) AS breakers
      FROM instances i LEFT JOIN circuits c ON c.instance_id = i.id
     WHERE i.service_id = ${svc}.id
  ) brk ON true`;
}

export function serviceCircuitSummary(instances: readonly InstanceBreaker[]): ServiceCircuitSummary {
  const circuits = { open: 0, halfOpen: 0, forced: 0 };
  for (const i of instances) {
    if (i.circuit === "open") circuits.open++;
    else if (i.circuit === "half_open") circuits.halfOpen++;
    if (i.forced) circuits.forced++;
  }
  const f = failoverState(
    instances.map((i) => ({ id: i.id, region: i.region, enabled: i.enabled, status: i.status, circuit: i.circuit })),
  );
  return { circuits, failover: f.failover, activeRegion: f.activeRegion, failoverReason: f.failover ? f.reason : null };
}

/** The same facts from the Circuits views of a service's instances (the service page). */
export function breakerOfView(v: CircuitView): InstanceBreaker {
  return {
    id: v.instanceId,
    region: v.region,
    enabled: v.enabled,
    status: v.health,
    circuit: v.state,
    forced: v.forced !== null,
  };
}
