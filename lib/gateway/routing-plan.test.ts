import { describe, expect, it } from "vitest";
import { failoverState, regionOrder, type RoutingInstance } from "./routing-plan";

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
