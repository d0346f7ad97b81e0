import { afterEach, describe, expect, it } from "vitest";
import { clientIp, requestMeta } from "./request-context";

const req = (headers: Record<string, string>) => new Request("http://localhost/", { headers });

afterEach(() => {
  delete process.env.HMS_TRUSTED_PROXY_HOPS;
});

describe("requestMeta", () => {
  it("continues the caller's W3C trace and otherwise starts one", () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    expect(requestMeta(req({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` })).traceId).toBe(traceId);
    const fresh = requestMeta(req({ traceparent: "garbage" }));
    expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.traceId).not.toBe(traceId);
  });
});

describe("clientIp", () => {
  it("takes the entry as many places from the right as there are trusted proxies", () => {
    const chain = { "x-forwarded-for": "6.6.6.6, 203.0.113.7, 10.0.0.2" };
    expect(clientIp(req(chain))).toBe("10.0.0.2"); // no proxy: the last (only trustworthy) entry
    process.env.HMS_TRUSTED_PROXY_HOPS = "2";
    expect(clientIp(req(chain))).toBe("203.0.113.7"); // the address the outer proxy saw
    process.env.HMS_TRUSTED_PROXY_HOPS = "9";
    expect(clientIp(req(chain))).toBeNull();
    expect(clientIp(req({}))).toBeNull();
  });
});
