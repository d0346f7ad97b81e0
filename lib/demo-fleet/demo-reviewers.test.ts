import { describe, expect, it } from "vitest";
import { DEMO_REVIEW_TOKENS_ENV, reviewerSwitchedOff, reviewerTenants, takeDemoReviewTokens } from "./demo-reviewers";
import { fleetInstances, fleetServices, type FleetMode } from "./fleet-spec";

const token = "hms_svc_" + "a".repeat(43);

describe("demo reviewers", () => {
  it("gives every demo agency a claim-review service with at least one instance of its own", () => {
    expect(reviewerTenants().sort()).toEqual(["agency-a", "agency-b"]);
    for (const t of reviewerTenants()) {
      expect(fleetServices.some((s) => s.name === "claim-review" && s.tenant === t)).toBe(true);
      expect(fleetInstances.some((i) => i.service === "claim-review" && i.tenant === t)).toBe(true);
    }
    // Ports stay distinct.
    expect(new Set(fleetInstances.map((i) => i.portOffset)).size).toBe(fleetInstances.length);
  });

  it("takes the tokens from the environment and removes them from it", () => {
    const env: Record<string, string | undefined> = {
      [DEMO_REVIEW_TOKENS_ENV]: JSON.stringify({ "agency-a": token }),
    };
    expect(takeDemoReviewTokens(env)).toEqual({ "agency-a": token });
    expect(env[DEMO_REVIEW_TOKENS_ENV]).toBeUndefined();
    expect(takeDemoReviewTokens({})).toEqual({});
  });

  it("refuses malformed handovers without echoing the value", () => {
    expect(() => takeDemoReviewTokens({ [DEMO_REVIEW_TOKENS_ENV]: "{nope" })).toThrow(/not valid JSON/);
    let msg = "";
    try {
      takeDemoReviewTokens({ [DEMO_REVIEW_TOKENS_ENV]: JSON.stringify({ "agency-a": "secret-value" }) });
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/must map tenant ids/);
    expect(msg).not.toContain("secret-value");
  });

  it("pauses a tenant's reviewer only while all its claim-review instances are down or failing", () => {
    const modes = new Map<string, FleetMode>();
    const modeOf = (k: string) => modes.get(k) ?? "ok";
    expect(reviewerSwitchedOff("agency-a", modeOf)).toBe(false);
    modes.set("claim-review-primary", "down");
    expect(reviewerSwitchedOff("agency-a", modeOf)).toBe(false);
    modes.set("claim-review-secondary", "fail");
    expect(reviewerSwitchedOff("agency-a", modeOf)).toBe(true);
    expect(reviewerSwitchedOff("agency-b", modeOf)).toBe(false);
    modes.set("claim-review-secondary", "slow");
    expect(reviewerSwitchedOff("agency-a", modeOf)).toBe(false);
    expect(reviewerSwitchedOff("no-such-tenant", modeOf)).toBe(false);
  });
});
