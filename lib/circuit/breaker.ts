/**
 * One instance's circuit breaker as this replica sees it: a pure state machine over explicit
 * timestamps (ms), so the hot path is a few comparisons and the rules are unit-testable without
 * a clock. Sharing between replicas (persist + NOTIFY + adopt) lives in circuit-sync.ts.
 *
 * Rules (issue 4, after Resilience4j and Envoy outlier detection):
 * - closed → open when, over a rolling time window, failures reach `failureRatePct` with at
 *   least `minCalls` calls, or on `consecutiveFailures` failures/timeouts in a row (whatever the
 *   window holds: a dead upstream at 1 call/s trips too);
 * - open for `openSeconds` × trip streak (capped at MAX_BACKOFF_MULTIPLIER): a breaker that
 *   trips again soon after closing backs off; a close that holds STREAK_RESET_MS resets it;
 * - after that, half-open: up to `halfOpenCalls` trial calls at once; any failure reopens (with
 *   back-off), `halfOpenCalls` successes close it;
 * - an operator may force it open or closed; forced states ignore results until released;
 * - panic routing may send calls past a breaker that is not forced open (`panicPermission`).
 */
export type CircuitStateName = "closed" | "open" | "half_open";
export type ForcedState = "open" | "closed";

export interface BreakerSettings {
  failureRatePct: number;
  minCalls: number;
  consecutiveFailures: number;
  windowSeconds: number;
  openSeconds: number;
  halfOpenCalls: number;
}

export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = {
  failureRatePct: 50,
  minCalls: 10,
  consecutiveFailures: 5,
  windowSeconds: 10,
  openSeconds: 30,
  halfOpenCalls: 3,
};

export const MAX_BACKOFF_MULTIPLIER = 10;
/** A close that holds this long forgets earlier trips (the next trip opens for the base time). */
export const STREAK_RESET_MS = 5 * 60_000;

/** What a replica shares about a breaker (the `circuits` row, as far as the state machine goes). */
export interface SharedBreakerState {
  state: CircuitStateName;
  forced: ForcedState | null;
  since: number;
  openUntil: number | null;
  tripStreak: number;
  lastTripAt: number | null;
  reason: string | null;
  version: number;
}

/** A change this replica made, to persist and broadcast. */
export interface Transition {
  from: CircuitStateName;
  to: CircuitStateName;
  reason: string;
  at: number;
  failureRatePct: number | null;
  windowCalls: number;
}

export type Permission = "allow" | "trial" | "deny";

const BUCKET_MS = 1000;

export class Breaker {
  state: CircuitStateName = "closed";
  forced: ForcedState | null = null;
  since: number;
  openUntil: number | null = null;
  tripStreak = 0;
  lastTripAt: number | null = null;
  /** when it last closed after a trip (for the streak reset) */
  closedAt: number | null = null;
  reason: string | null = null;
  /** the shared row version this state corresponds to */
  version = 0;
  consecutiveFailures = 0;
  private trialsInFlight = 0;
  private trialSuccesses = 0;
  // Rolling window: one bucket per second, a ring of `windowSeconds` buckets.
  private bucketStart: number[];
  private bucketCalls: number[];
  private bucketFailures: number[];

  constructor(
    public settings: BreakerSettings,
    now: number,
  ) {
    this.since = now;
    const n = Math.max(1, Math.ceil(settings.windowSeconds));
    this.bucketStart = new Array<number>(n).fill(-1);
    this.bucketCalls = new Array<number>(n).fill(0);
    this.bucketFailures = new Array<number>(n).fill(0);
  }

  /** May a call go to this instance now? Moves open → half_open when the open period is over. */
  permission(now: number): Permission {
    if (this.forced === "open") return "deny";
    if (this.forced === "closed") return "allow";
    if (this.state === "closed") return "allow";
    if (this.state === "open") {
      if (this.openUntil === null || now < this.openUntil) return "deny";
      this.toHalfOpen(now);
    }
    return this.trialsInFlight < Math.max(1, this.settings.halfOpenCalls) ? "trial" : "deny";
  }

  /**
   * Panic routing (lib/gateway/balancer.ts: no instance passes its breaker, and this one is
   * health-green): the call goes anyway, unless an operator forced the breaker open. "trial": the
   * breaker is half-open, so the call is one more trial (call `startTrial()`; its outcome may
   * close or reopen the breaker) — trials beyond `halfOpenCalls` run concurrently. "allow": it is
   * closed, or open within its period (the outcome is counted, and moves nothing).
   */
  panicPermission(now: number): Permission {
    if (this.forced === "open") return "deny";
    if (this.forced === "closed" || this.state === "closed") return "allow";
    if (this.state === "open") {
      if (this.openUntil === null || now < this.openUntil) return "allow";
      this.toHalfOpen(now);
    }
    return "trial";
  }

  /** Whether calls could go here now, without changing anything (routing decisions, views). */
  usable(now: number): boolean {
    if (this.forced) return this.forced === "closed";
    if (this.state === "open") return this.openUntil !== null && now >= this.openUntil;
    return true;
  }

  /** The state as it stands at `now` (an open breaker past its period reads half_open). */
  effectiveState(now: number): CircuitStateName {
    if (this.forced) return this.forced;
    if (this.state === "open" && this.openUntil !== null && now >= this.openUntil) return "half_open";
    return this.state;
  }

  /** Call after `permission()` returned "trial" and the call was sent. */
  startTrial(): void {
    this.trialsInFlight++;
  }

  /**
   * Records one call's outcome. `trial` = the permission was "trial". Returns the transition it
   * caused, if any (closed → open, half_open → open, half_open → closed).
   */
  record(ok: boolean, now: number, trial: boolean): Transition | null {
    if (trial) this.trialsInFlight = Math.max(0, this.trialsInFlight - 1);
    this.count(ok, now);
    if (this.forced) return null;
    if (ok) this.consecutiveFailures = 0;
    else this.consecutiveFailures++;

    if (this.state === "half_open") {
      if (!ok) return this.trip(now, "trial call failed while half-open");
      if (trial && ++this.trialSuccesses >= Math.max(1, this.settings.halfOpenCalls)) {
        return this.close(now, `${this.trialSuccesses} trial calls succeeded`);
      }
      return null;
    }
    if (this.state !== "closed") return null;

    if (!ok && this.consecutiveFailures >= Math.max(1, this.settings.consecutiveFailures)) {
      return this.trip(now, `${this.consecutiveFailures} consecutive failures`);
    }
    const { calls, failures } = this.window(now);
    if (calls >= Math.max(1, this.settings.minCalls) && failures * 100 >= this.settings.failureRatePct * calls) {
      const pct = Math.round((failures * 100) / calls);
      return this.trip(now, `${pct}% of ${calls} calls failed in ${this.settings.windowSeconds} s`);
    }
    return null;
  }

  /** Calls and failures in the rolling window ending at `now`. */
  window(now: number): { calls: number; failures: number; failureRatePct: number | null } {
    const horizon = now - this.bucketStart.length * BUCKET_MS;
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < this.bucketStart.length; i++) {
      if (this.bucketStart[i]! > horizon) {
        calls += this.bucketCalls[i]!;
        failures += this.bucketFailures[i]!;
      }
    }
    return { calls, failures, failureRatePct: calls ? Math.round((failures * 100) / calls) : null };
  }

  /** The shared part of this breaker's state (what a `circuits` row holds). */
  snapshot(): SharedBreakerState {
    return {
      state: this.state,
      forced: this.forced,
      since: this.since,
      openUntil: this.openUntil,
      tripStreak: this.tripStreak,
      lastTripAt: this.lastTripAt,
      reason: this.reason,
      version: this.version,
    };
  }

  /** Takes over the shared state (another replica's transition, a forced state, a resync). */
  adopt(s: SharedBreakerState): void {
    const stateChanged = s.state !== this.state || s.forced !== this.forced;
    this.state = s.state;
    this.forced = s.forced;
    this.since = s.since;
    this.openUntil = s.openUntil;
    this.tripStreak = s.tripStreak;
    this.lastTripAt = s.lastTripAt;
    this.reason = s.reason;
    this.version = s.version;
    if (stateChanged) {
      this.consecutiveFailures = 0;
      this.trialSuccesses = 0;
      this.trialsInFlight = 0;
      if (s.state === "closed") {
        this.closedAt = s.since;
        this.clearWindow();
      }
    }
  }

  private trip(now: number, reason: string): Transition {
    const from = this.state;
    const { calls, failureRatePct } = this.window(now);
    const recentlyClosed = this.closedAt !== null && now - this.closedAt < STREAK_RESET_MS;
    this.tripStreak = from === "half_open" || recentlyClosed ? this.tripStreak + 1 : 1;
    const multiplier = Math.min(MAX_BACKOFF_MULTIPLIER, Math.max(1, this.tripStreak));
    this.state = "open";
    this.since = now;
    this.lastTripAt = now;
    this.openUntil = now + this.settings.openSeconds * 1000 * multiplier;
    this.reason = multiplier > 1 ? `${reason} (trip ${this.tripStreak}: open ${multiplier}× longer)` : reason;
    this.consecutiveFailures = 0;
    this.trialSuccesses = 0;
    this.trialsInFlight = 0;
    return { from, to: "open", reason: this.reason, at: now, failureRatePct, windowCalls: calls };
  }

  private toHalfOpen(now: number): void {
    this.state = "half_open";
    this.since = now;
    this.trialSuccesses = 0;
    this.trialsInFlight = 0;
    this.reason = "open period over: trial calls";
  }

  private close(now: number, reason: string): Transition {
    const from = this.state;
    const { calls, failureRatePct } = this.window(now);
    this.state = "closed";
    this.since = now;
    this.closedAt = now;
    this.openUntil = null;
    this.reason = reason;
    this.consecutiveFailures = 0;
    this.trialSuccesses = 0;
    this.clearWindow();
    return { from, to: "closed", reason, at: now, failureRatePct, windowCalls: calls };
  }

  private count(ok: boolean, now: number): void {
    const slot = Math.floor(now / BUCKET_MS);
    const i = slot % this.bucketStart.length;
    const start = slot * BUCKET_MS;
    if (this.bucketStart[i] !== start) {
      this.bucketStart[i] = start;
      this.bucketCalls[i] = 0;
      this.bucketFailures[i] = 0;
    }
    this.bucketCalls[i]!++;
    if (!ok) this.bucketFailures[i]!++;
  }

  private clearWindow(): void {
    this.bucketStart.fill(-1);
    this.bucketCalls.fill(0);
    this.bucketFailures.fill(0);
  }
}
