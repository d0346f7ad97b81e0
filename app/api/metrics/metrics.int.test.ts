import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { createHealthService, type TestService } from "@/lib/health/test-fixtures";
import {
  labelValue,
  onlyTenant,
  recordGatewayRequest,
  recordIntakeRequest,
  recordRateLimited,
} from "@/lib/telemetry/metrics";
import { stopTrafficRecorder } from "@/lib/traffic/traffic-recorder";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createAgency, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET } from "./route";

const SCRAPE_TOKEN = "scrape-token-0123456789abcdef";

const scrape = (o: { token?: string; headers?: Record<string, string> } = {}) =>
  callRoute(GET, { path: "/api/metrics", ...o });

describe("GET /api/metrics", () => {
  let a: Awaited<ReturnType<typeof createAgency>>;
  let b: Awaited<ReturnType<typeof createAgency>>;
  let globalAdmin: TestUser;
  let svc: TestService;

  beforeAll(async () => {
    process.env.HMS_METRICS_TOKEN = SCRAPE_TOKEN;
    a = await createAgency();
    b = await createAgency();
    globalAdmin = await createUser("admin", null);
    svc = await createHealthService(systemPool(), a.tenantId, { name: "docs" }, [
      { url: "http://127.0.0.1:9/docs/1", region: "primary", nextCheck: "never" },
      { url: "http://127.0.0.1:9/docs/2", region: "secondary", nextCheck: "never" },
    ]);
    const [open, healthy] = svc.instanceIds;
    await systemPool().query(`UPDATE instances SET status = 'red', last_latency_ms = 1500 WHERE id = $1`, [open]);
    await systemPool().query(`UPDATE instances SET status = 'green', last_latency_ms = 12 WHERE id = $1`, [healthy]);
    await systemPool().query(
      `INSERT INTO circuits (instance_id, service_id, tenant_id, state) VALUES ($1, $2, $3, 'open'), ($4, $2, $3, 'half_open')`,
      [open, svc.id, a.tenantId, healthy],
    );
    await systemPool().query(
      `INSERT INTO circuit_events (instance_id, service_id, tenant_id, at, from_state, to_state, actor)
       VALUES ($1, $2, $3, now() - interval '10 minutes', 'closed', 'open', 'test'),
              ($1, $2, $3, now() - interval '5 minutes', 'half_open', 'open', 'test'),
              ($1, $2, $3, now() - interval '3 hours', 'closed', 'open', 'test')`,
      [open, svc.id, a.tenantId],
    );

    recordGatewayRequest({ tenant: a.tenantId, service: "docs", status: 200, latencyMs: 3 });
    recordGatewayRequest({ tenant: a.tenantId, service: "docs", status: 503, latencyMs: 2_000 });
    recordGatewayRequest({ tenant: b.tenantId, service: "notify", status: 200, latencyMs: 4 });
    recordIntakeRequest({ tenant: a.tenantId, status: 201, latencyMs: 150 });
    recordRateLimited({ tenant: a.tenantId, service: "docs", scope: "*" });
  });

  afterAll(async () => {
    delete process.env.HMS_METRICS_TOKEN;
    await stopTrafficRecorder();
  });

  it("refuses an anonymous caller with 401 problem+json", async () => {
    expect(await problemOf(await scrape())).toMatchObject({ status: 401, code: "token_missing" });
  });

  it("refuses a veteran with 403", async () => {
    expect(await problemOf(await scrape({ token: a.veteran.token }))).toMatchObject({
      status: 403,
      code: "role_forbidden",
    });
  });

  it("refuses a wrong scrape token (401, like any bad bearer token)", async () => {
    const res = await scrape({ token: `${SCRAPE_TOKEN}x` });
    expect((await problemOf(res)).status).toBe(401);
    const basic = await scrape({ headers: { authorization: `Basic ${btoa(`x:${SCRAPE_TOKEN}`)}` } });
    expect((await problemOf(basic)).status).toBe(401);
  });

  it("serves the scrape token every tenant's series, process metrics and the breaker/health gauges from the database", async () => {
    const res = await scrape({ token: SCRAPE_TOKEN });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    const ta = a.tenantId;
    expect(body).toContain(`hms_gateway_requests_total{tenant="${ta}",service="docs",status_class="2xx"} 1`);
    expect(body).toContain(`hms_gateway_requests_total{tenant="${ta}",service="docs",status_class="5xx"} 1`);
    expect(body).toContain(`hms_gateway_requests_total{tenant="${b.tenantId}",service="notify",status_class="2xx"} 1`);
    expect(body).toContain(
      `hms_gateway_request_duration_seconds_bucket{le="0.005",tenant="${ta}",service="docs",status_class="2xx"} 1`,
    );
    expect(body).toContain(
      `hms_gateway_request_duration_seconds_bucket{le="1",tenant="${ta}",service="docs",status_class="5xx"} 0`,
    );
    expect(body).toContain(`hms_intake_requests_total{tenant="${ta}",status_class="2xx"} 1`);
    expect(body).toContain(`hms_rate_limited_total{tenant="${ta}",scope="*"} 1`);
    // the refusal is a 4xx answer too, but no latency sample
    expect(body).toContain(`hms_gateway_requests_total{tenant="${ta}",service="docs",status_class="4xx"} 1`);
    expect(body).not.toContain(
      `hms_gateway_request_duration_seconds_count{tenant="${ta}",service="docs",status_class="4xx"} 1`,
    );
    expect(body).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(body).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(body).toContain("hms_fleet_state_up 1");

    const [open, healthy] = svc.instanceIds;
    const fleet = (id: string, region: string) =>
      `tenant="${ta}",service="docs",instance_id="${id}",region="${region}"`;
    expect(body).toContain(`hms_circuit_state{${fleet(open!, "primary")}} 2`);
    expect(body).toContain(`hms_circuit_state{${fleet(healthy!, "secondary")}} 1`);
    expect(body).toContain(`hms_circuit_trips_last_hour{${fleet(open!, "primary")}} 2`);
    expect(body).toContain(`hms_instance_health{${fleet(open!, "primary")},status="red"} 1`);
    expect(body).toContain(`hms_instance_health{${fleet(open!, "primary")},status="green"} 0`);
    expect(body).toContain(`hms_instance_health{${fleet(healthy!, "secondary")},status="green"} 1`);
    expect(body).toContain(`hms_instance_probe_latency_seconds{${fleet(open!, "primary")}} 1.5`);
  });

  it("reflects a breaker change at the next scrape (read from the database, the same on every replica)", async () => {
    await systemPool().query(`UPDATE circuits SET state = 'closed' WHERE instance_id = $1`, [svc.instanceIds[0]]);
    const body = await (await scrape({ token: SCRAPE_TOKEN })).text();
    expect(body).toContain(
      `hms_circuit_state{tenant="${a.tenantId}",service="docs",instance_id="${svc.instanceIds[0]}",region="primary"} 0`,
    );
  });

  it("serves an operator their own tenant's series only", async () => {
    const res = await scrape({ token: a.operator.token });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain(`hms_gateway_requests_total{tenant="${a.tenantId}",service="docs",status_class="2xx"} 1`);
    expect(body).toContain(`hms_circuit_state{tenant="${a.tenantId}"`);
    expect(body).toContain("process_cpu_user_seconds_total");
    expect(body).not.toContain(b.tenantId);
    const tenants = new Set(body.split("\n").map((l) => labelValue(l, "tenant")));
    expect([...tenants].filter((t) => t !== null)).toEqual([a.tenantId]);

    const other = await (await scrape({ token: b.operator.token })).text();
    expect(other).toContain(`service="notify"`);
    expect(other).not.toContain(a.tenantId);
  });

  it("serves a global admin every tenant", async () => {
    const body = await (await scrape({ token: globalAdmin.token })).text();
    expect(body).toContain(a.tenantId);
    expect(body).toContain(b.tenantId);
  });
});

describe("onlyTenant", () => {
  it("keeps comments and unlabelled series, and is not fooled by a tenant label inside another value", () => {
    const body = [
      "# HELP x help",
      "# TYPE x counter",
      'x{tenant="a",service="s"} 1',
      'x{tenant="b",service="s"} 2',
      'x{service="q,tenant=\\"a\\"",tenant="b"} 3',
      "up 1",
    ].join("\n");
    expect(onlyTenant(body, "a").split("\n")).toEqual([
      "# HELP x help",
      "# TYPE x counter",
      'x{tenant="a",service="s"} 1',
      "up 1",
    ]);
  });
});
