import type { Permission } from "../circuit/breaker";
import { failoverState, panicEligible, panicPlan, regionOrder, type FailoverState } from "./routing-plan";
import type { RuntimeInstance, RuntimeService } from "./routing-table";

/**
 * Picks the instance for one call (issue 4 item 2):
 * 1. the serving region comes from `failoverState` (primary first; a region with more than half
 *    its instances ejected is failed over as a whole);
 * 2. a half-open breaker in the serving region, or in a region preferred over it, gets its trial
 *    calls first — that is how traffic fails back once the primary recovers;
 * 3. otherwise smooth weighted round-robin (nginx's algorithm) over the serving region's usable
 *    instances, with each weight divided by (1 + requests in flight): exact weight proportions
 *    while instances keep up, and less traffic to one that is slow (least-outstanding).
 * Drained, red and open-breaker instances never get a call — except in panic routing: when
 * no instance passes its breaker (open, forced open, or half-open with its trial slots taken),
 * a health-green one whose breaker is not forced open still gets the call (`panicPlan` in
 * routing-plan.ts; a half-open breaker counts it as one more trial). `exclude` skips instances
 * already tried for this request.
 */
export interface Pick {
  instance: RuntimeInstance;
  /** a half-open trial call: report its outcome as such */
  trial: boolean;
  failover: FailoverState;
  /** sent past the breakers by panic routing (`failover.reason` says so) */
  panic: boolean;
}

function routable(i: RuntimeInstance): boolean {
  return i.enabled && i.status !== "red";
}

/** What routing needs of a service: its instances (with their live breakers). */
export interface ServiceInstances {
  readonly instances: readonly RuntimeInstance[];
}

function routingView(svc: ServiceInstances, now: number) {
  return svc.instances.map((i) => ({
    id: i.id,
    region: i.region,
    enabled: i.enabled,
    status: i.status,
    circuit: i.breaker.effectiveState(now),
    forcedOpen: i.breaker.forced === "open",
  }));
}

export function planOf(svc: ServiceInstances, now: number): FailoverState {
  return failoverState(routingView(svc, now));
}

export function pickInstance(svc: ServiceInstances, now: number, exclude?: ReadonlySet<string>): Pick | null {
  return pickByBreakers(svc, now, exclude) ?? pickInPanic(svc, now, exclude);
}

/** Panic routing: no instance passes its breaker; a health-green one takes the call anyway. */
function pickInPanic(svc: ServiceInstances, now: number, exclude?: ReadonlySet<string>): Pick | null {
  const plan = panicPlan(routingView(svc, now), exclude);
  if (plan === null) return null;
  const chosen = smoothWeighted(
    svc.instances.filter((i) => i.region === plan.activeRegion && panicEligible(forPanic(i)) && !exclude?.has(i.id)),
  );
  if (!chosen) return null;
  const p = chosen.breaker.panicPermission(now);
  if (p === "deny") return null; // forced open: excluded above already
  return { instance: chosen, trial: p === "trial", failover: plan, panic: true };
}

function forPanic(i: RuntimeInstance) {
  return { enabled: i.enabled, status: i.status, forcedOpen: i.breaker.forced === "open" };
}

function pickByBreakers(svc: ServiceInstances, now: number, exclude?: ReadonlySet<string>): Pick | null {
  const plan = planOf(svc, now);
  if (plan.activeRegion === null) return null;
  const order = regionOrder(svc.instances.filter((i) => i.enabled).map((i) => i.region));
  const activeRank = order.indexOf(plan.activeRegion);
  const rank = new Map(order.map((r, n) => [r, n]));

  // Trials first: half-open instances in the serving region or a preferred one.
  for (const i of svc.instances) {
    if (!routable(i) || exclude?.has(i.id)) continue;
    if ((rank.get(i.region) ?? Infinity) > activeRank) continue;
    if (i.breaker.effectiveState(now) !== "half_open") continue;
    if (i.breaker.permission(now) === "trial") return { instance: i, trial: true, failover: plan, panic: false };
  }

  const fromRegions = (regions: (r: string) => boolean): Pick | null => {
    const candidates: RuntimeInstance[] = [];
    for (const i of svc.instances) {
      if (!routable(i) || exclude?.has(i.id) || !regions(i.region)) continue;
      const p: Permission = i.breaker.permission(now);
      if (p === "allow") candidates.push(i);
    }
    const chosen = smoothWeighted(candidates);
    return chosen ? { instance: chosen, trial: false, failover: plan, panic: false } : null;
  };
  // The serving region; then (a retry whose region is exhausted) any other region in order.
  return (
    fromRegions((r) => r === plan.activeRegion) ??
    order.reduce<Pick | null>((found, region) => found ?? fromRegions((r) => r === region), null)
  );
}

/** nginx's smooth weighted round-robin, with effective weight = weight / (1 + outstanding). */
export function smoothWeighted(candidates: readonly RuntimeInstance[]): RuntimeInstance | null {
  if (candidates.length === 0) return null;
  if (candidates.length === 1) return candidates[0]!;
  let total = 0;
  let best: RuntimeInstance | null = null;
  for (const c of candidates) {
    const effective = c.weight / (1 + c.outstanding);
    c.currentWeight += effective;
    total += effective;
    if (best === null || c.currentWeight > best.currentWeight) best = c;
  }
  best!.currentWeight -= total;
  return best;
}

/** Seconds until something may serve again (the earliest breaker to leave open), for Retry-After. */
export function retryAfterSeconds(svc: RuntimeService, now: number): number {
  let soonest = Infinity;
  for (const i of svc.instances) {
    if (!i.enabled) continue;
    const b = i.breaker;
    if (b.forced === null && b.state === "open" && b.openUntil !== null) soonest = Math.min(soonest, b.openUntil - now);
  }
  if (!Number.isFinite(soonest)) return 5; // red by health checks: the next probe decides
  return Math.min(300, Math.max(1, Math.ceil(soonest / 1000)));
}
