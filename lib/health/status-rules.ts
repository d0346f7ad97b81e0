import type { ProbeOutcome } from "./probe-outcome";

/**
 * Status semantics (ARCHITECTURE.md §3), as pure functions. Exhaustively unit-tested in
 * status-rules.test.ts; the prober and the registry are their only callers.
 */
export const healthStatuses = ["green", "yellow", "red", "unknown"] as const;
export type HealthStatus = (typeof healthStatuses)[number];

export interface InstanceState {
  status: HealthStatus;
  /** why it is not green (null when green or unknown) */
  reason: string | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

export interface Thresholds {
  /** consecutive failures that turn an instance red (>= 1) */
  failureThreshold: number;
  /** consecutive passing checks that make a red instance trusted again (>= 1) */
  successThreshold: number;
}

/**
 * The instance state after one more check.
 *
 * - A pass or warn ("it answered") counts as a success and resets the failure streak; a fail
 *   counts as a failure and resets the success streak.
 * - fail, streak >= failureThreshold → red, reason "<why> (3 consecutive failures)".
 * - fail below the threshold → yellow "intermittent: <why> (1 of 3 failures before red)" — unless
 *   the instance is already red (a red instance that fails during recovery stays red).
 * - red stays red until successThreshold consecutive successes (as Gatus does), with reason
 *   "recovering 1/2"; the success that reaches the threshold decides like any other check.
 * - pass → green (reason null); warn (slow, or health+json "warn") → yellow with its reason.
 *
 * The latest check decides otherwise: one pass after an intermittent failure is green again;
 * the failure stays visible in the roll-ups and the failures list.
 */
export function nextInstanceState(
  prev: Pick<InstanceState, "status" | "consecutiveFailures" | "consecutiveSuccesses">,
  check: { outcome: ProbeOutcome; reason: string | null },
  thresholds: Thresholds,
): InstanceState {
  const failureThreshold = Math.max(1, Math.floor(thresholds.failureThreshold));
  const successThreshold = Math.max(1, Math.floor(thresholds.successThreshold));
  const why = check.reason ?? "check failed";

  if (check.outcome === "fail") {
    const consecutiveFailures = Math.max(0, prev.consecutiveFailures) + 1;
    const counters = { consecutiveFailures, consecutiveSuccesses: 0 };
    if (consecutiveFailures >= failureThreshold) {
      const n = consecutiveFailures === 1 ? "1 failure" : `${consecutiveFailures} consecutive failures`;
      return { status: "red", reason: `${why} (${n})`, ...counters };
    }
    if (prev.status === "red") return { status: "red", reason: `${why} (while recovering)`, ...counters };
    return {
      status: "yellow",
      reason: `intermittent: ${why} (${consecutiveFailures} of ${failureThreshold} failures before red)`,
      ...counters,
    };
  }

  const consecutiveSuccesses = Math.max(0, prev.consecutiveSuccesses) + 1;
  const counters = { consecutiveFailures: 0, consecutiveSuccesses };
  if (prev.status === "red" && consecutiveSuccesses < successThreshold) {
    return { status: "red", reason: `recovering ${consecutiveSuccesses}/${successThreshold}`, ...counters };
  }
  if (check.outcome === "warn") return { status: "yellow", reason: check.reason ?? "degraded", ...counters };
  return { status: "green", reason: null, ...counters };
}

export interface InstanceForService {
  status: HealthStatus;
  enabled: boolean;
  region: string;
  reason?: string | null;
}

export interface ServiceVerdict {
  status: HealthStatus;
  /** the board's "why it is not green" text; null when green */
  reason: string | null;
  /** the service is in maintenance: status computed as usual, shown as maintenance, no alerts */
  maintenance: boolean;
}

export const PRIMARY_REGION = "primary";
const MAX_DETAILS = 2;

function details(list: InstanceForService[]): string {
  const seen = new Map<string, number>();
  for (const i of list) {
    const key = `${i.region}: ${i.reason ?? i.status}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const parts = [...seen].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k));
  const shown = parts.slice(0, MAX_DETAILS);
  if (parts.length > MAX_DETAILS) shown.push(`+${parts.length - MAX_DETAILS} more`);
  return shown.join("; ");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * A service's status from its instances. Drained (enabled = false) instances do not count.
 *
 * - no enabled instance → red "no enabled instances" (nothing can take traffic; §3 "red when
 *   no instance can take traffic").
 * - every enabled instance unknown → unknown "not checked yet".
 * - every CHECKED enabled instance green → green. An instance not checked yet (just added) is
 *   pending: it neither degrades a service whose other instances are green nor saves one whose
 *   others are red. (Counting it as "not green" would write a yellow event for every new
 *   instance, seconds before its first check; it is still listed in a non-green reason.)
 * - no enabled instance green or yellow → red ("nothing can take traffic").
 * - otherwise yellow: some instance red or yellow, or failover is in effect (the service has
 *   primary-region instances, none is green, and a non-primary one is green). A service whose
 *   instances are all yellow is yellow too: degraded, but serving.
 *
 * The reason lists what is wrong, worst first: "failover: no green instance in primary
 * (serving from secondary); 1 of 3 instances red (primary: connection refused (3 consecutive
 * failures))". Maintenance does not change the status; it is reported alongside.
 */
export function serviceStatus(
  instances: readonly InstanceForService[],
  opts: { maintenance: boolean },
): ServiceVerdict {
  const maintenance = opts.maintenance;
  const enabled = instances.filter((i) => i.enabled);
  const total = enabled.length;
  if (total === 0) {
    const drained = instances.length;
    const reason = drained
      ? `no enabled instances (${plural(drained, "instance")} drained)`
      : "no instances registered";
    return { status: "red", reason, maintenance };
  }
  const by = (s: HealthStatus) => enabled.filter((i) => i.status === s);
  const green = by("green");
  const yellow = by("yellow");
  const red = by("red");
  const unknown = by("unknown");

  if (unknown.length === total) return { status: "unknown", reason: "not checked yet", maintenance };

  const parts: string[] = [];
  const primary = enabled.filter((i) => i.region === PRIMARY_REGION);
  const failoverTo = [...new Set(green.filter((i) => i.region !== PRIMARY_REGION).map((i) => i.region))].sort();
  const failover = primary.length > 0 && !primary.some((i) => i.status === "green") && failoverTo.length > 0;
  if (failover) parts.push(`failover: no green instance in ${PRIMARY_REGION} (serving from ${failoverTo.join(", ")})`);
  if (red.length) parts.push(`${red.length} of ${plural(total, "instance")} red (${details(red)})`);
  if (yellow.length) parts.push(`${yellow.length} of ${plural(total, "instance")} yellow (${details(yellow)})`);
  if (unknown.length) parts.push(`${unknown.length} of ${plural(total, "instance")} not checked yet`);

  if (green.length + unknown.length === total) return { status: "green", reason: null, maintenance };
  if (green.length + yellow.length === 0) {
    return { status: "red", reason: `no instance can take traffic: ${parts.join("; ")}`, maintenance };
  }
  return { status: "yellow", reason: parts.join("; "), maintenance };
}

/** Worst-first order: red, yellow, unknown, green. */
export const statusRank: Record<HealthStatus, number> = { red: 0, yellow: 1, unknown: 2, green: 3 };

/**
 * The overall status of a set of services (`GET /health`): the worst one, where "unknown" counts
 * as yellow (a service nobody has checked is not known to be fine) and services in maintenance
 * are left out. No services → green.
 */
export function overallStatus(
  services: readonly { status: HealthStatus; maintenance: boolean }[],
): "green" | "yellow" | "red" {
  let worst: "green" | "yellow" | "red" = "green";
  for (const s of services) {
    if (s.maintenance) continue;
    if (s.status === "red") return "red";
    if (s.status === "yellow" || s.status === "unknown") worst = "yellow";
  }
  return worst;
}
