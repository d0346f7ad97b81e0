import { describe, expect, it } from "vitest";
import { failoverState, panicEligible, panicPlan, regionOrder, type RoutingInstance } from "./routing-plan";

let n = 0;
const inst = (region: string, over: Partial<RoutingInstance> = {}): RoutingInstance => ({
  id: `i${n++}`,
  region,
  enabled: true,
  status: "green",
  circuit: "closed",
  ...over,
});

describe("failoverState", () => {
  it("orders regions primary, secondary, then the rest alphabetically", () => {
    expect(regionOrder(["west", "secondary", "east", "primary"])).toEqual(["primary", "secondary", "east", "west"]);
  });

  it("serves from the primary while at most half of it is ejected", () => {
    const s = failoverState([inst("primary", { circuit: "open" }), inst("primary"), inst("secondary")]);
    expect(s).toEqual({ activeRegion: "primary", failover: false, reason: null });
  });

  it("fails the whole region over once more than half is ejected, even with one instance left", () => {
    const s = failoverState([
      inst("primary", { circuit: "open" }),
      inst("primary", { status: "red" }),
      inst("primary"),
      inst("secondary"),
    ]);
    expect(s.activeRegion).toBe("secondary");
    expect(s.failover).toBe(true);
    expect(s.reason).toBe("failover to secondary: 2 of 3 primary instances ejected");
  });

  it("counts half-open as usable and drained instances not at all", () => {
    expect(failoverState([inst("primary", { circuit: "half_open" }), inst("secondary")]).activeRegion).toBe("primary");
    const drainedOnly = failoverState([inst("primary", { enabled: false }), inst("secondary")]);
    expect(drainedOnly).toEqual({ activeRegion: "secondary", failover: false, reason: null });
  });

  it("falls back to any usable instance when no region is within the cap, and to null when none is", () => {
    const degraded = failoverState([
      inst("primary", { circuit: "open" }),
      inst("primary", { circuit: "open" }),
      inst("primary"),
    ]);
    expect(degraded.activeRegion).toBe("primary");
    expect(failoverState([inst("primary", { status: "red" })]).activeRegion).toBeNull();
    expect(failoverState([]).activeRegion).toBeNull();
  });
});

describe("panicPlan", () => {
  it("is null while nothing is health-green, or only forced-open or drained instances are", () => {
    expect(panicPlan([inst("primary", { status: "red", circuit: "open" })])).toBeNull();
    expect(panicPlan([inst("primary", { status: "yellow", circuit: "open" })])).toBeNull();
    expect(panicPlan([inst("primary", { status: "unknown", circuit: "open" })])).toBeNull();
    expect(panicPlan([inst("primary", { circuit: "open", forcedOpen: true })])).toBeNull();
    expect(panicPlan([inst("primary", { circuit: "open", enabled: false })])).toBeNull();
    expect(panicPlan([])).toBeNull();
  });

  it("sends to the first region with a health-green instance, whatever the breakers say", () => {
    const plan = panicPlan([inst("primary", { circuit: "open" }), inst("secondary", { circuit: "half_open" })]);
    expect(plan).toEqual({
      activeRegion: "primary",
      failover: false,
      reason: "panic routing: no instance passes its breaker; sending to a health-green instance in primary",
    });
  });

  it("fails over when the preferred region has no eligible instance left (red, forced open, or tried)", () => {
    const tried = inst("primary", { circuit: "open" });
    const list = [
      inst("primary", { status: "red", circuit: "open" }),
      inst("primary", { circuit: "open", forcedOpen: true }),
      tried,
      inst("secondary", { circuit: "open" }),
    ];
    expect(panicPlan(list)?.activeRegion).toBe("primary");
    const plan = panicPlan(list, new Set([tried.id]));
    expect(plan).toMatchObject({ activeRegion: "secondary", failover: true });
    expect(plan?.reason).toMatch(/^panic routing: .* in secondary$/);
    expect(panicPlan(list, new Set(list.map((i) => i.id)))).toBeNull();
  });

  it("marks panic eligibility as enabled, green and not forced open", () => {
    expect(panicEligible({ enabled: true, status: "green" })).toBe(true);
    expect(panicEligible({ enabled: true, status: "green", forcedOpen: false })).toBe(true);
    expect(panicEligible({ enabled: true, status: "green", forcedOpen: true })).toBe(false);
    expect(panicEligible({ enabled: false, status: "green" })).toBe(false);
    expect(panicEligible({ enabled: true, status: "yellow" })).toBe(false);
  });
});
