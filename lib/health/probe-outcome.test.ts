import { describe, expect, it } from "vitest";
import { AppError } from "../http/app-error";
import { interpretError, interpretResponse, type ProbeResponse } from "./probe-outcome";

const budget = { latencyBudgetMs: 1000 };
const res = (status: number, body = "", headers: Record<string, string> = {}, latencyMs = 12): ProbeResponse => ({
  status,
  body,
  headers,
  latencyMs,
});
const hj = (status: number, body: unknown, latencyMs = 12) =>
  res(
    status,
    typeof body === "string" ? body : JSON.stringify(body),
    { "Content-Type": "application/health+json; charset=utf-8" },
    latencyMs,
  );

describe("interpretResponse", () => {
  it("passes a plain 2xx within budget", () => {
    expect(interpretResponse(res(200, "OK"), budget)).toEqual({
      outcome: "pass",
      reason: null,
      httpStatus: 200,
      latencyMs: 12,
    });
    expect(interpretResponse(res(204), budget).outcome).toBe("pass");
  });

  it("fails any non-2xx with its status code", () => {
    expect(interpretResponse(res(503), budget)).toMatchObject({ outcome: "fail", reason: "HTTP 503", httpStatus: 503 });
    expect(interpretResponse(res(404), budget)).toMatchObject({ outcome: "fail", reason: "HTTP 404" });
    expect(interpretResponse(res(101), budget)).toMatchObject({ outcome: "fail", reason: "HTTP 101" });
  });

  it("fails a redirect, which is never followed", () => {
    expect(interpretResponse(res(302, "", { Location: "https://elsewhere.example/health" }), budget)).toMatchObject({
      outcome: "fail",
      reason: "redirect not followed (HTTP 302 to https://elsewhere.example/health)",
    });
    expect(interpretResponse(res(301), budget).reason).toBe("redirect not followed (HTTP 301)");
  });

  it("turns a pass slower than the budget into a warn", () => {
    expect(interpretResponse(res(200, "", {}, 1234.4), budget)).toEqual({
      outcome: "warn",
      reason: "slow: 1234 ms > 1000 ms budget",
      httpStatus: 200,
      latencyMs: 1234,
    });
    expect(interpretResponse(res(200, "", {}, 1000), budget).outcome).toBe("pass");
    // a slow failure is still just a failure
    expect(interpretResponse(res(500, "", {}, 5000), budget)).toMatchObject({ outcome: "fail", reason: "HTTP 500" });
  });

  it("reads application/health+json status words", () => {
    for (const s of ["pass", "ok", "up", "UP"])
      expect(interpretResponse(hj(200, { status: s }), budget).outcome).toBe("pass");
    expect(interpretResponse(hj(200, { status: "warn" }), budget)).toMatchObject({
      outcome: "warn",
      reason: 'reports "warn"',
    });
    for (const s of ["fail", "error", "down"]) {
      expect(interpretResponse(hj(200, { status: s }), budget)).toMatchObject({
        outcome: "fail",
        reason: `reports "${s}"`,
      });
    }
  });

  it("fails a 200 reporting fail and a 5xx reporting fail, naming the HTTP code when not 2xx", () => {
    expect(interpretResponse(hj(200, { status: "fail", output: "db down" }), budget).reason).toBe(
      'reports "fail": db down',
    );
    expect(interpretResponse(hj(503, { status: "fail" }), budget)).toMatchObject({
      outcome: "fail",
      reason: 'reports "fail" (HTTP 503)',
    });
  });

  it("fails a non-2xx even when the body says pass or warn", () => {
    expect(interpretResponse(hj(500, { status: "pass" }), budget)).toMatchObject({
      outcome: "fail",
      reason: "HTTP 500",
    });
    expect(interpretResponse(hj(503, { status: "warn", output: "x" }), budget).reason).toBe("HTTP 503: x");
  });

  it("appends output or notes to a warn, and slowness after it", () => {
    expect(interpretResponse(hj(200, { status: "warn", notes: ["cache cold", 3, "replica lag"] }), budget).reason).toBe(
      'reports "warn": cache cold; replica lag',
    );
    expect(interpretResponse(hj(200, { status: "warn", output: "lag" }, 1500), budget).reason).toBe(
      'reports "warn": lag; slow: 1500 ms > 1000 ms budget',
    );
    const long = interpretResponse(hj(200, { status: "warn", output: "x".repeat(500) }), budget).reason!;
    expect(long.length).toBeLessThan(200);
  });

  it("warns when a health+json body is broken or its status missing or unknown", () => {
    expect(interpretResponse(hj(200, "not json"), budget)).toMatchObject({
      outcome: "warn",
      reason: "health+json body is not a JSON object",
    });
    expect(interpretResponse(hj(200, [1]), budget).outcome).toBe("warn");
    expect(interpretResponse(hj(200, {}), budget).reason).toBe("health+json body has no status");
    expect(interpretResponse(hj(200, { status: "sideways" }), budget).reason).toBe(
      'unrecognised health status "sideways"',
    );
    expect(interpretResponse(hj(502, "<html>"), budget)).toMatchObject({ outcome: "fail", reason: "HTTP 502" });
  });

  it("ignores a status field in plain JSON (only health+json is interpreted)", () => {
    expect(
      interpretResponse(res(200, '{"status":"fail"}', { "content-type": "application/json" }), budget).outcome,
    ).toBe("pass");
  });
});

describe("interpretError", () => {
  const coded = (code: string, message = "boom") => Object.assign(new Error(message), { code });
  it("names timeouts with the timeout", () => {
    expect(interpretError(coded("ETIMEDOUT"), { timeoutMs: 2000 })).toEqual({
      outcome: "fail",
      reason: "timeout after 2000 ms",
      httpStatus: null,
      latencyMs: null,
    });
  });

  it("says plainly what happened to the connection, also when the code is on the cause", () => {
    expect(interpretError(coded("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1")).reason).toBe("connection refused");
    expect(interpretError(coded("ECONNRESET")).reason).toBe("connection reset");
    expect(interpretError(new TypeError("fetch failed", { cause: coded("ENOTFOUND") })).reason).toBe(
      "DNS lookup failed",
    );
  });

  it("reports a network-policy refusal with its code", () => {
    const e = new AppError("ssrf_link_local", "169.254.169.254 is a link-local address.");
    expect(interpretError(e).reason).toBe(
      "refused by network policy (ssrf_link_local): 169.254.169.254 is a link-local address.",
    );
  });

  it("falls back to the message for anything else", () => {
    expect(interpretError(new Error("socket hang up")).reason).toBe("socket hang up");
    expect(interpretError("weird").reason).toBe("weird");
  });
});
