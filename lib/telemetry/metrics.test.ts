import { describe, expect, it, vi } from "vitest";
import { MAX_SERIES, metricsText, OVERFLOW_LABEL, recordGatewayRequest, recordIntakeRequest } from "./metrics";
import { statusClassIndex } from "./status-class";

// Unit tests: no DATABASE_URL here, so the traffic recorder stays off and the fleet gauges are unreadable.
describe("metrics", () => {
  it("maps statuses to classes: 1xx counts as 2xx, non-statuses as 5xx", () => {
    expect([100, 200, 299, 301, 404, 429, 500, 599].map(statusClassIndex)).toEqual([0, 0, 0, 1, 2, 2, 3, 3]);
    expect([0, -1, 600, Number.NaN].map(statusClassIndex)).toEqual([3, 3, 3, 3]);
  });

  it("serves the counters without a database, saying the fleet gauges are missing", async () => {
    recordGatewayRequest({ tenant: "t-unit", service: "svc", status: 204, latencyMs: Number.NaN });
    recordIntakeRequest({ tenant: "t-unit", status: 201, latencyMs: -5 });
    const { contentType, body } = await metricsText();
    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toContain(`hms_gateway_requests_total{tenant="t-unit",service="svc",status_class="2xx"} 1`);
    expect(body).toContain(
      `hms_gateway_request_duration_seconds_sum{tenant="t-unit",service="svc",status_class="2xx"} 0`,
    );
    expect(body).toContain(`hms_intake_requests_total{tenant="t-unit",status_class="2xx"} 1`);
    expect(body).toContain("hms_fleet_state_up 0");
  });

  it("shares one registry between two copies of the module (the custom server's and Next's)", async () => {
    vi.resetModules();
    const copy = await import("./metrics");
    expect(copy.recordGatewayRequest).not.toBe(recordGatewayRequest);
    copy.recordGatewayRequest({ tenant: "t-copy", service: "svc", status: 503, latencyMs: 10 });
    const { body } = await metricsText();
    expect(body).toContain(`hms_gateway_requests_total{tenant="t-copy",service="svc",status_class="5xx"} 1`);
  });

  it(`caps label sets: past ${MAX_SERIES}, new services are counted as ${OVERFLOW_LABEL}`, async () => {
    for (let i = 0; i < MAX_SERIES + 5; i++) {
      recordGatewayRequest({ tenant: "t-cap", service: `s${i}`, status: 200, latencyMs: 1 });
    }
    recordGatewayRequest({ tenant: "t-cap", service: "s0", status: 200, latencyMs: 1 });
    const { body } = await metricsText({ tenant: "t-cap" });
    const lines = body.split("\n").filter((l) => l.startsWith("hms_gateway_requests_total{"));
    expect(lines.length).toBeLessThanOrEqual(MAX_SERIES + 1);
    expect(body).toContain(`hms_gateway_requests_total{tenant="t-cap",service="s0",status_class="2xx"} 2`);
    expect(body).toMatch(
      new RegExp(`hms_gateway_requests_total\\{tenant="t-cap",service="${OVERFLOW_LABEL}",status_class="2xx"\\} [1-9]`),
    );
  });
});
