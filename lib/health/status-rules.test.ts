import { describe, expect, it } from "vitest";
import type { ProbeOutcome } from "./probe-outcome";
import {
  healthStatuses,
  nextInstanceState,
  overallStatus,
  serviceStatus,
  type HealthStatus,
  type InstanceForService,
  type InstanceState,
} from "./status-rules";

const T = { failureThreshold: 3, successThreshold: 2 };
const fresh = { status: "unknown" as HealthStatus, consecutiveFailures: 0, consecutiveSuccesses: 0 };

/** Applies a sequence of outcomes from a fresh (never checked) instance. */
function run(outcomes: ProbeOutcome[], thresholds = T, start = fresh): InstanceState[] {
  const states: InstanceState[] = [];
  let s: Pick<InstanceState, "status" | "consecutiveFailures" | "consecutiveSuccesses"> = start;
  for (const o of outcomes) {
    const next = nextInstanceState(s, { outcome: o, reason: o === "pass" ? null : `why-${o}` }, thresholds);
    states.push(next);
    s = next;
  }
  return states;
}
const statuses = (outcomes: ProbeOutcome[], thresholds = T) => run(outcomes, thresholds).map((s) => s.status);

describe("nextInstanceState", () => {
  it("turns a never-checked instance green on its first pass", () => {
    expect(run(["pass"])[0]).toEqual({
      status: "green",
      reason: null,
      consecutiveFailures: 0,
      consecutiveSuccesses: 1,
    });
  });

  it("turns an instance yellow with the check's reason on a warn (slow or health+json warn)", () => {
    expect(run(["warn"])[0]).toEqual({
      status: "yellow",
      reason: "why-warn",
      consecutiveFailures: 0,
      consecutiveSuccesses: 1,
    });
    expect(statuses(["pass", "warn", "pass"])).toEqual(["green", "yellow", "green"]);
  });

  it("makes a failure below the threshold an intermittent yellow, with the count towards red", () => {
    const [s] = run(["fail"]);
    expect(s).toEqual({
      status: "yellow",
      reason: "intermittent: why-fail (1 of 3 failures before red)",
      consecutiveFailures: 1,
      consecutiveSuccesses: 0,
    });
    expect(statuses(["pass", "fail", "pass"])).toEqual(["green", "yellow", "green"]);
  });

  it("turns red exactly at failureThreshold consecutive failures", () => {
    const s = run(["pass", "fail", "fail", "fail", "fail"]);
    expect(s.map((x) => x.status)).toEqual(["green", "yellow", "yellow", "red", "red"]);
    expect(s[3]!.reason).toBe("why-fail (3 consecutive failures)");
    expect(s[4]!.consecutiveFailures).toBe(4);
  });

  it("does not count failures interrupted by a pass or a warn as consecutive", () => {
    expect(statuses(["fail", "fail", "pass", "fail", "fail", "warn", "fail"])).toEqual([
      "yellow",
      "yellow",
      "green",
      "yellow",
      "yellow",
      "yellow",
      "yellow",
    ]);
  });

  it("stays red until successThreshold consecutive successes, showing the recovery progress", () => {
    const s = run(["fail", "fail", "fail", "pass", "pass", "pass"]);
    expect(s.map((x) => [x.status, x.reason])).toEqual([
      ["yellow", "intermittent: why-fail (1 of 3 failures before red)"],
      ["yellow", "intermittent: why-fail (2 of 3 failures before red)"],
      ["red", "why-fail (3 consecutive failures)"],
      ["red", "recovering 1/2"],
      ["green", null],
      ["green", null],
    ]);
  });

  it("restarts the recovery when a red instance fails again before reaching the threshold", () => {
    const s = run(["fail", "fail", "fail", "pass", "fail", "pass", "pass"]);
    expect(s.map((x) => x.status)).toEqual(["yellow", "yellow", "red", "red", "red", "red", "green"]);
    expect(s[4]!.reason).toBe("why-fail (while recovering)");
    expect(s[5]!.reason).toBe("recovering 1/2");
  });

  it("counts a warn towards recovery and ends it yellow when the deciding check is a warn", () => {
    expect(statuses(["fail", "fail", "fail", "warn", "warn"])).toEqual(["yellow", "yellow", "red", "red", "yellow"]);
  });

  it("with failureThreshold 1 turns red on the first failure; with successThreshold 1 recovers at once", () => {
    const t = { failureThreshold: 1, successThreshold: 1 };
    expect(statuses(["fail", "pass", "fail", "warn"], t)).toEqual(["red", "green", "red", "yellow"]);
    expect(run(["fail"], t)[0]!.reason).toBe("why-fail (1 failure)");
  });

  it("treats nonsensical thresholds (0, negative, fractional) as at least 1", () => {
    expect(statuses(["fail", "pass"], { failureThreshold: 0, successThreshold: -2 })).toEqual(["red", "green"]);
    expect(statuses(["fail", "fail"], { failureThreshold: 2.7, successThreshold: 1 })).toEqual(["yellow", "red"]);
  });

  it("uses a default reason when a failing or warning check has none", () => {
    expect(nextInstanceState(fresh, { outcome: "warn", reason: null }, T).reason).toBe("degraded");
    expect(nextInstanceState(fresh, { outcome: "fail", reason: null }, T).reason).toMatch(
      /^intermittent: check failed/,
    );
  });

  // Every previous status × every outcome × counters at and around the thresholds.
  describe("the full transition table", () => {
    const outcomes: ProbeOutcome[] = ["pass", "warn", "fail"];
    for (const status of healthStatuses) {
      for (const outcome of outcomes) {
        for (const cf of [0, 1, 2, 3, 7]) {
          for (const cs of [0, 1, 2, 5]) {
            const prev = { status, consecutiveFailures: cf, consecutiveSuccesses: cs };
            const next = nextInstanceState(prev, { outcome, reason: "r" }, T);
            it(`${status} (f=${cf}, s=${cs}) + ${outcome} → ${next.status}`, () => {
              if (outcome === "fail") {
                expect(next.consecutiveFailures).toBe(cf + 1);
                expect(next.consecutiveSuccesses).toBe(0);
                if (cf + 1 >= 3 || status === "red") expect(next.status).toBe("red");
                else expect(next.status).toBe("yellow");
              } else {
                expect(next.consecutiveFailures).toBe(0);
                expect(next.consecutiveSuccesses).toBe(cs + 1);
                if (status === "red" && cs + 1 < 2) {
                  expect(next).toMatchObject({ status: "red", reason: `recovering ${cs + 1}/2` });
                } else if (outcome === "pass") {
                  expect(next).toMatchObject({ status: "green", reason: null });
                } else {
                  expect(next).toMatchObject({ status: "yellow", reason: "r" });
                }
              }
              expect(next.status).not.toBe("unknown");
            });
          }
        }
      }
    }
  });
});

const inst = (
  status: HealthStatus,
  region = "primary",
  reason: string | null = null,
  enabled = true,
): InstanceForService => ({
  status,
  region,
  reason,
  enabled,
});
const svc = (list: InstanceForService[], maintenance = false) => serviceStatus(list, { maintenance });

describe("serviceStatus", () => {
  it("is green when every enabled instance is green", () => {
    expect(svc([inst("green"), inst("green", "secondary")])).toEqual({
      status: "green",
      reason: null,
      maintenance: false,
    });
  });

  it("ignores drained instances, whatever their status", () => {
    expect(
      svc([inst("green"), inst("red", "primary", "x", false), inst("unknown", "primary", null, false)]).status,
    ).toBe("green");
  });

  it("is red with 'no enabled instances' when every instance is drained, or there are none", () => {
    expect(svc([inst("green", "primary", null, false)])).toEqual({
      status: "red",
      reason: "no enabled instances (1 instance drained)",
      maintenance: false,
    });
    expect(svc([])).toEqual({ status: "red", reason: "no instances registered", maintenance: false });
  });

  it("is unknown while no enabled instance has been checked", () => {
    expect(svc([inst("unknown"), inst("unknown", "secondary")])).toEqual({
      status: "unknown",
      reason: "not checked yet",
      maintenance: false,
    });
  });

  it("is yellow when one instance of several is red, and says which and why", () => {
    expect(svc([inst("green"), inst("green"), inst("red", "eu-west", "connection refused")])).toEqual({
      status: "yellow",
      reason: "1 of 3 instances red (eu-west: connection refused)",
      maintenance: false,
    });
  });

  it("is yellow when an instance is yellow (slow, intermittent or reporting warn)", () => {
    expect(svc([inst("green"), inst("yellow", "primary", "slow: 1500 ms > 1000 ms budget")]).reason).toBe(
      "1 of 2 instances yellow (primary: slow: 1500 ms > 1000 ms budget)",
    );
  });

  it("is yellow when every instance is yellow: degraded, but still serving", () => {
    expect(svc([inst("yellow", "primary", "a"), inst("yellow", "primary", "a")])).toEqual({
      status: "yellow",
      reason: "2 of 2 instances yellow (primary: a ×2)",
      maintenance: false,
    });
  });

  it("stays green while a new instance is not checked yet next to green ones, and lists it when not green", () => {
    expect(svc([inst("green"), inst("unknown")])).toEqual({ status: "green", reason: null, maintenance: false });
    expect(svc([inst("yellow", "primary", "a"), inst("unknown")])).toMatchObject({
      status: "yellow",
      reason: "1 of 2 instances yellow (primary: a); 1 of 2 instances not checked yet",
    });
  });

  it("is yellow with a failover reason when primary has no green instance but another region does", () => {
    expect(svc([inst("red", "primary", "HTTP 503"), inst("green", "secondary")])).toEqual({
      status: "yellow",
      reason:
        "failover: no green instance in primary (serving from secondary); 1 of 2 instances red (primary: HTTP 503)",
      maintenance: false,
    });
    // a yellow primary is still not green: traffic prefers the green secondary
    expect(svc([inst("yellow", "primary", "slow"), inst("green", "secondary")]).reason).toMatch(/^failover: /);
  });

  it("does not call it failover when the service has no primary-region instances at all", () => {
    expect(svc([inst("green", "us-east"), inst("green", "eu-west")]).status).toBe("green");
    expect(svc([inst("red", "us-east", "x"), inst("green", "eu-west")]).reason).toBe(
      "1 of 2 instances red (us-east: x)",
    );
  });

  it("is red when no enabled instance is green or yellow", () => {
    expect(
      svc([inst("red", "primary", "connection refused"), inst("red", "secondary", "timeout after 2000 ms")]),
    ).toEqual({
      status: "red",
      reason:
        "no instance can take traffic: 2 of 2 instances red (primary: connection refused; secondary: timeout after 2000 ms)",
      maintenance: false,
    });
    expect(svc([inst("red", "primary", "x"), inst("unknown")]).status).toBe("red");
  });

  it("lists at most two distinct details and counts the rest", () => {
    const r = svc([
      inst("green"),
      inst("red", "a", "1"),
      inst("red", "b", "2"),
      inst("red", "c", "3"),
      inst("red", "d", "4"),
    ]);
    expect(r.reason).toBe("4 of 5 instances red (a: 1; b: 2; +2 more)");
  });

  it("computes the status as usual in maintenance and only flags it", () => {
    expect(svc([inst("red", "primary", "x")], true)).toMatchObject({ status: "red", maintenance: true });
    expect(svc([inst("green")], true)).toEqual({ status: "green", reason: null, maintenance: true });
  });
});

describe("overallStatus", () => {
  const s = (status: HealthStatus, maintenance = false) => ({ status, maintenance });
  it("is the worst service, with unknown counting as yellow", () => {
    expect(overallStatus([s("green"), s("green")])).toBe("green");
    expect(overallStatus([s("green"), s("unknown")])).toBe("yellow");
    expect(overallStatus([s("green"), s("yellow")])).toBe("yellow");
    expect(overallStatus([s("yellow"), s("red"), s("green")])).toBe("red");
  });
  it("leaves services in maintenance out, and is green without services", () => {
    expect(overallStatus([s("green"), s("red", true), s("unknown", true)])).toBe("green");
    expect(overallStatus([])).toBe("green");
  });
});
