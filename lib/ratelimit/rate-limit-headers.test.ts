import { describe, expect, it } from "vitest";
import { problemResponse } from "../http/problem";
import { rateLimitedError, rateLimitedProblem, rateLimitHeaders } from "./rate-limit-headers";
import type { RateDecision } from "./shared-limiter";

const allowed: RateDecision = {
  allowed: true,
  limited: true,
  policyName: "tenant",
  limit: 100,
  windowSeconds: 2,
  remaining: 37,
  resetSeconds: 2,
  retryAfterSeconds: 0,
};
const rejected: RateDecision = { ...allowed, allowed: false, remaining: 0, resetSeconds: 3, retryAfterSeconds: 3 };

describe("rateLimitHeaders", () => {
  it("gives the draft's structured-field policy and limit, without Retry-After when allowed", () => {
    expect(rateLimitHeaders(allowed)).toEqual({
      "RateLimit-Policy": '"tenant";q=100;w=2',
      RateLimit: '"tenant";r=37;t=2',
    });
  });

  it("adds Retry-After when rejected", () => {
    expect(rateLimitHeaders(rejected)).toEqual({
      "RateLimit-Policy": '"tenant";q=100;w=2',
      RateLimit: '"tenant";r=0;t=3',
      "Retry-After": "3",
    });
  });

  it("gives nothing for an unlimited request", () => {
    expect(rateLimitHeaders({ ...allowed, limited: false })).toEqual({});
  });
});

describe("rateLimitedError", () => {
  it("becomes a 429 problem+json with the headers and the wait in the body", async () => {
    const res = problemResponse(rateLimitedError({ ...rejected, policyName: "service" }), "req-1");
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("retry-after")).toBe("3");
    expect(res.headers.get("ratelimit")).toBe('"service";r=0;t=3');
    expect(res.headers.get("ratelimit-policy")).toBe('"service";q=100;w=2');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 429, code: "rate_limited", retryAfterSeconds: 3, policy: "service" });
    expect(body.detail).toContain("Retry in 3 s");
  });
});

describe("rateLimitedProblem", () => {
  it("tells a caller over its perCaller share that the limit is its own, not the agency's", () => {
    const { detail, extra } = rateLimitedProblem({ ...rejected, policyName: "caller", limit: 5 });
    expect(detail).toMatch(/^Too many requests from you \(your share of your agency's limit\): at most 5 at once/);
    expect(extra).toMatchObject({ policy: "caller", limit: 5, retryAfterSeconds: 3 });
    expect(rateLimitedProblem(rejected).detail).toMatch(/^Too many requests to your agency:/);
  });
});
