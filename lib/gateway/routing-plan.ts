import { PRIMARY_REGION } from "../health/status-rules";

/**
 * Which region serves a service, as a pure function of its instances' health and breakers, so
 * every gateway replica and the board reach the same answer from the same shared state.
 *
 * - Regions are tried in order: "primary", then "secondary", then any other named region (A–Z).
 * - In a region, an enabled instance is EJECTED when its health is red or its breaker open
 *   (half-open counts as usable: it takes trial calls). Drained instances do not count.
 * - Outlier ejection never takes more than half of a region's instances (Envoy's
 *   max_ejection_percent = 50): a region with more than half ejected, or nothing usable, is
 *   failed over as a whole and the next region serves — visibly (`failover: true`).
 * - When no region passes that test, the first region with any usable instance still serves
 *   (degraded, better than a 503); `activeRegion` null means nothing can serve at all.
 * - Panic routing (`panicPlan`, after Envoy's panic threshold): when no instance passes its
 *   breaker, the health checks still know which instances answer. The first region with a
 *   health-GREEN enabled instance whose breaker is not forced open serves, breakers or not —
 *   the caller gets the upstream's own answer instead of a 503 for every call. Red, yellow and
 *   unknown instances never get panic traffic, nor does a forced-open breaker.
 */
export type CircuitView = "closed" | "open" | "half_open";

export interface RoutingInstance {
  id: string;
  region: string;
  enabled: boolean;
  /** instance health: green | yellow | red | unknown */
  status: string;
  circuit: CircuitView;
  /** an operator forced the breaker open (never routed to, not even in panic) */
  forcedOpen?: boolean;
}

export interface FailoverState {
  /** the region taking traffic, or null when no instance can */
  activeRegion: string | null;
  /** traffic is not in the first region that has enabled instances */
  failover: boolean;
  /** why (null when serving from the preferred region) */
  reason: string | null;
}

const SECONDARY_REGION = "secondary";

export function regionOrder(regions: Iterable<string>): string[] {
  const rank = (r: string) => (r === PRIMARY_REGION ? 0 : r === SECONDARY_REGION ? 1 : 2);
  return [...new Set(regions)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function isEjected(i: Pick<RoutingInstance, "status" | "circuit">): boolean {
  return i.status === "red" || i.circuit === "open";
}

export interface RegionVerdict {
  region: string;
  enabled: number;
  ejected: number;
  usable: number;
  /** within the ejection cap and something usable */
  healthy: boolean;
}

export function regionVerdicts(instances: readonly RoutingInstance[]): RegionVerdict[] {
  const enabled = instances.filter((i) => i.enabled);
  return regionOrder(enabled.map((i) => i.region)).map((region) => {
    const members = enabled.filter((i) => i.region === region);
    const ejected = members.filter(isEjected).length;
    const usable = members.length - ejected;
    return {
      region,
      enabled: members.length,
      ejected,
      usable,
      healthy: usable > 0 && ejected <= Math.floor(members.length / 2),
    };
  });
}

export function failoverState(instances: readonly RoutingInstance[]): FailoverState {
  const verdicts = regionVerdicts(instances);
  if (verdicts.length === 0) return { activeRegion: null, failover: false, reason: "no enabled instances" };
  const preferred = verdicts[0]!;
  const chosen = verdicts.find((v) => v.healthy) ?? verdicts.find((v) => v.usable > 0);
  if (!chosen) return { activeRegion: null, failover: false, reason: "no instance can take traffic" };
  if (chosen.region === preferred.region) return { activeRegion: chosen.region, failover: false, reason: null };
  return {
    activeRegion: chosen.region,
    failover: true,
    reason: `failover to ${chosen.region}: ${preferred.ejected} of ${preferred.enabled} ${preferred.region} instances ejected`,
  };
}

/** Whether an instance may take panic traffic: enabled, health-green, not forced open. */
export function panicEligible(i: Pick<RoutingInstance, "enabled" | "status" | "forcedOpen">): boolean {
  return i.enabled && i.status === "green" && i.forcedOpen !== true;
}

/**
 * Where panic traffic goes: the first region (in `regionOrder`) with a panic-eligible instance
 * not in `exclude` (already tried for this request), or null. `failover` compares it with the
 * first region that has enabled instances at all.
 */
export function panicPlan(instances: readonly RoutingInstance[], exclude?: ReadonlySet<string>): FailoverState | null {
  const order = regionOrder(instances.filter((i) => i.enabled).map((i) => i.region));
  const region = order.find((r) => instances.some((i) => i.region === r && panicEligible(i) && !exclude?.has(i.id)));
  if (region === undefined) return null;
  return {
    activeRegion: region,
    failover: region !== order[0],
    reason: `panic routing: no instance passes its breaker; sending to a health-green instance in ${region}`,
  };
}
