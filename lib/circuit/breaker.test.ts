import { describe, expect, it } from "vitest";
import { Breaker, DEFAULT_BREAKER_SETTINGS, MAX_BACKOFF_MULTIPLIER, STREAK_RESET_MS } from "./breaker";

const T0 = 1_000_000;
const fresh = (over: Partial<typeof DEFAULT_BREAKER_SETTINGS> = {}) =>
  new Breaker({ ...DEFAULT_BREAKER_SETTINGS, ...over }, T0);

/** Alternating outcomes so the consecutive rule never fires; returns the first transition. */
function feed(b: Breaker, outcomes: boolean[], at = T0) {
  for (const ok of outcomes) {
    const t = b.record(ok, at, false);
    if (t) return t;
  }
  return null;
}

describe("closed → open", () => {
  it("trips at 50% failures once the window holds the minimum of 10 calls", () => {
    const b = fresh();
    // 9 calls, 5 failures (55%): below the minimum, no trip.
    expect(feed(b, [false, true, false, true, false, true, false, true, false])).toBeNull();
    // The 10th call (a success) makes 5 of 10 = 50%: trip.
    expect(feed(b, [true])).toMatchObject({ from: "closed", to: "open", windowCalls: 10, failureRatePct: 50 });
    expect(b.state).toBe("open");
    expect(b.openUntil).toBe(T0 + 30_000);
  });

  it("stays closed just under the rate", () => {
    const b = fresh();
    expect(feed(b, [false, true, false, true, false, true, false, true, true, true, false])).toBeNull(); // 4 of 11
    expect(b.state).toBe("closed");
  });

  it("does not trip below the minimum number of calls, whatever the rate", () => {
    const b = fresh({ consecutiveFailures: 100 });
    expect(feed(b, [false, false, false, false, false, false, false, false, false])).toBeNull();
    expect(b.state).toBe("closed");
  });

  it("trips on 5 consecutive failures even with few calls", () => {
    const b = fresh();
    expect(feed(b, [false, false, false, false])).toBeNull();
    expect(feed(b, [false])).toMatchObject({ to: "open", reason: "5 consecutive failures" });
  });

  it("forgets failures older than the rolling window", () => {
    const b = fresh({ consecutiveFailures: 100 });
    feed(b, [false, false, false, false, false, false, false, false, false], T0);
    // 10 s later the nine failures have left the window: ten successes, no trip.
    for (let i = 0; i < 10; i++) expect(b.record(true, T0 + 10_500, false)).toBeNull();
    expect(b.window(T0 + 10_500)).toEqual({ calls: 10, failures: 0, failureRatePct: 0 });
  });
});

describe("open → half-open → closed / open", () => {
  it("denies while open, then lets halfOpenCalls trials through at once", () => {
    const b = fresh({ halfOpenCalls: 2 });
    feed(b, [false, false, false, false, false]);
    expect(b.permission(T0 + 29_999)).toBe("deny");
    expect(b.permission(T0 + 30_000)).toBe("trial");
    expect(b.state).toBe("half_open");
    b.startTrial();
    expect(b.permission(T0 + 30_001)).toBe("trial");
    b.startTrial();
    expect(b.permission(T0 + 30_002)).toBe("deny");
  });

  it("closes after halfOpenCalls successful trials", () => {
    const b = fresh({ halfOpenCalls: 2 });
    feed(b, [false, false, false, false, false]);
    b.permission(T0 + 30_000);
    b.startTrial();
    expect(b.record(true, T0 + 30_010, true)).toBeNull();
    b.startTrial();
    expect(b.record(true, T0 + 30_020, true)).toMatchObject({ from: "half_open", to: "closed" });
    expect(b.permission(T0 + 30_030)).toBe("allow");
  });

  it("reopens on a failed trial, for longer each time (× streak, capped)", () => {
    const b = fresh();
    feed(b, [false, false, false, false, false]);
    let now = T0;
    for (let streak = 2; streak <= MAX_BACKOFF_MULTIPLIER + 2; streak++) {
      now = b.openUntil!;
      expect(b.permission(now)).toBe("trial");
      b.startTrial();
      const t = b.record(false, now, true);
      expect(t).toMatchObject({ from: "half_open", to: "open" });
      expect(b.openUntil! - now).toBe(30_000 * Math.min(streak, MAX_BACKOFF_MULTIPLIER));
    }
  });

  it("a close that holds resets the back-off; a trip soon after closing does not", () => {
    const b = fresh({ halfOpenCalls: 1 });
    feed(b, [false, false, false, false, false]);
    const reopenSoon = (at: number) => {
      b.permission(b.openUntil!);
      b.startTrial();
      b.record(true, b.openUntil!, true); // closed
      for (let i = 0; i < 5; i++) b.record(false, at, false);
      return b.openUntil! - at;
    };
    expect(reopenSoon(T0 + 31_000)).toBe(60_000); // streak 2: tripped 1 s after closing
    const later = b.openUntil! + STREAK_RESET_MS + 1;
    b.permission(b.openUntil!);
    b.startTrial();
    b.record(true, b.openUntil!, true);
    for (let i = 0; i < 5; i++) b.record(false, later, false);
    expect(b.openUntil! - later).toBe(30_000);
  });
});

describe("forced states", () => {
  it("forced open denies and forced closed allows, and neither reacts to outcomes", () => {
    const b = fresh();
    b.adopt({
      state: "open",
      forced: "open",
      since: T0,
      openUntil: null,
      tripStreak: 0,
      lastTripAt: null,
      reason: "",
      version: 1,
    });
    expect(b.permission(T0 + 10 ** 9)).toBe("deny");
    b.adopt({
      state: "closed",
      forced: "closed",
      since: T0,
      openUntil: null,
      tripStreak: 0,
      lastTripAt: null,
      reason: "",
      version: 2,
    });
    for (let i = 0; i < 20; i++) expect(b.record(false, T0, false)).toBeNull();
    expect(b.permission(T0)).toBe("allow");
    expect(b.effectiveState(T0)).toBe("closed");
  });
});

describe("panic routing (panicPermission)", () => {
  const shared = (over: Partial<Parameters<Breaker["adopt"]>[0]>) => ({
    state: "open" as const,
    forced: null,
    since: T0,
    openUntil: T0 + 30_000,
    tripStreak: 1,
    lastTripAt: T0,
    reason: "health check: connection refused (1 failure)",
    version: 1,
    ...over,
  });

  it("never lets a call past a forced-open breaker", () => {
    const b = fresh();
    b.adopt(shared({ forced: "open", openUntil: null }));
    expect(b.panicPermission(T0 + 10 ** 9)).toBe("deny");
  });

  it("lets a call past an open breaker within its period as a plain call that moves nothing", () => {
    const b = fresh();
    b.adopt(shared({}));
    expect(b.permission(T0 + 1_000)).toBe("deny");
    expect(b.panicPermission(T0 + 1_000)).toBe("allow");
    expect(b.record(true, T0 + 1_000, false)).toBeNull();
    expect(b.state).toBe("open");
  });

  it("makes extra trials of a half-open breaker whose trial slots are taken, and they can close it", () => {
    const b = fresh({ halfOpenCalls: 2 });
    b.adopt(shared({ openUntil: T0 }));
    const now = T0 + 1;
    for (let i = 0; i < 2; i++) {
      expect(b.permission(now)).toBe("trial");
      b.startTrial();
    }
    expect(b.permission(now)).toBe("deny"); // ordinary routing: the slots are full
    for (let i = 0; i < 3; i++) {
      expect(b.panicPermission(now)).toBe("trial");
      b.startTrial();
    }
    expect(b.record(true, now, true)).toBeNull();
    expect(b.record(true, now, true)).toMatchObject({ from: "half_open", to: "closed" });
    expect(b.permission(now)).toBe("allow");
  });

  it("moves an open breaker past its period to half-open, and a failed extra trial reopens it with back-off", () => {
    const b = fresh();
    b.adopt(shared({ openUntil: T0 + 30_000 }));
    expect(b.panicPermission(T0 + 30_000)).toBe("trial");
    expect(b.state).toBe("half_open");
    b.startTrial();
    expect(b.record(false, T0 + 30_001, true)).toMatchObject({ from: "half_open", to: "open" });
    expect(b.tripStreak).toBe(2);
  });

  it("allows a closed breaker like ordinary routing does", () => {
    expect(fresh().panicPermission(T0)).toBe("allow");
  });
});
