import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authOptions } from "../auth/next-auth-options";
import { exchangePasswordForToken } from "../auth/token-request";
import { forceFromRequest } from "../circuit/force-action";
import { pool, systemPool } from "../db/pool";
import { withTenant } from "../db/tenant-scope";
import { makePdf } from "../documents/test-pdfs";
import { createHealthService } from "../health/test-fixtures";
import { requestMeta } from "../http/request-context";
import { submitClaim } from "../intake/submit-claim";
import { deleteLimit, upsertLimit } from "../ratelimit/limits-repository";
import { createService, deleteService, updateService } from "../registry/service-repository";
import { serviceInput } from "../registry/service-schema";
import { createTenant, createUser, type TestUser } from "../testing/fixtures";
import { sealAuditChains } from "./sealer";
import { verifyAuditChain } from "./verifier";

/**
 * Issue 5 asks for an audit event — actor, tenant, action, target, outcome, trace id, IP, time —
 * for logins, token issue, claim intake, registry changes, breaker forcing and rate-limit changes
 * (status changes and requeues are covered beside their own code). Each path below runs through
 * the same lib function its route calls, with the request metadata a real request would carry
 * (a W3C `traceparent` and the client address in X-Forwarded-For), and the event it leaves is
 * checked field by field; then the tenant's chain is sealed and verified.
 */
const IP = "198.51.100.23";

function request(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const traceId = randomBytes(16).toString("hex");
  const req = new Request(`http://localhost${path}`, {
    ...init,
    headers: {
      traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
      "x-forwarded-for": IP,
      ...init.headers,
    },
  });
  return { req, meta: requestMeta(req), traceId };
}

interface Row {
  tenant_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  trace_id: string | null;
  ip: string | null;
  at: Date;
}

async function lastEvent(action: string, actor: string): Promise<Row> {
  const { rows } = await systemPool().query<Row>(
    `SELECT tenant_id, actor, action, target, outcome, trace_id, ip, at FROM audit_events
      WHERE action = $1 AND actor = $2 ORDER BY id DESC LIMIT 1`,
    [action, actor],
  );
  expect(rows, `no ${action} event by ${actor}`).toHaveLength(1);
  return rows[0]!;
}

function expectComplete(e: Row, want: Partial<Row> & { traceId: string }) {
  const { traceId, ...rest } = want;
  expect(e).toMatchObject({ ...rest, trace_id: traceId, ip: IP });
  expect(e.target, "target").toBeTruthy();
  expect(Date.now() - e.at.getTime()).toBeLessThan(60_000);
}

let tenant: string;
let admin: TestUser;
let veteran: TestUser;

beforeAll(async () => {
  process.env.HMS_ALLOW_PRIVATE_NETWORKS = "127.0.0.1/32";
  tenant = await createTenant("cov");
  admin = await createUser("admin", tenant);
  veteran = await createUser("veteran", tenant);
});

afterAll(() => {
  delete process.env.HMS_ALLOW_PRIVATE_NETWORKS;
});

describe("audit coverage of the issue's events", () => {
  it("token issue (POST /api/v1/auth/token): success and failure", async () => {
    const { meta, traceId } = request("/api/v1/auth/token", { method: "POST" });
    await exchangePasswordForToken({ username: veteran.username, password: veteran.password }, meta);
    expectComplete(await lastEvent("auth.token_issue", veteran.username), {
      tenant_id: tenant,
      action: "auth.token_issue",
      target: veteran.userId,
      outcome: "success",
      traceId,
    });
    const bad = request("/api/v1/auth/token", { method: "POST" });
    await expect(
      exchangePasswordForToken({ username: veteran.username, password: "wrong" }, bad.meta),
    ).rejects.toThrow();
    const failed = await lastEvent("auth.token_issue", veteran.username);
    expect(failed).toMatchObject({ outcome: "failure", trace_id: bad.traceId, ip: IP });
  });

  it("browser sign-in (next-auth): actor, tenant and outcome", async () => {
    await signIn(veteran.username, veteran.password);
    const e = await lastEvent("auth.login", veteran.username);
    expect(e).toMatchObject({ tenant_id: tenant, outcome: "success" });
    await signIn(veteran.username, "wrong");
    expect(await lastEvent("auth.login", veteran.username)).toMatchObject({ outcome: "failure" });
  });

  it("browser sign-in records trace id, IP and target", async () => {
    const { req, traceId } = request("/api/auth/callback/credentials", { method: "POST" });
    await signIn(veteran.username, veteran.password, req);
    expectComplete(await lastEvent("auth.login", veteran.username), { outcome: "success", traceId });
  });

  it("claim intake", async () => {
    const pdf = await makePdf({ pages: 1 });
    const { req, meta, traceId } = request("/api/v1/claims", {
      method: "POST",
      headers: { "content-type": "application/pdf" },
      body: pdf,
    });
    const r = await submitClaim(req, veteran, meta);
    expect(r.status).toBe(201);
    const claimId = (r.body as { claim_id: string }).claim_id;
    expectComplete(await lastEvent("claim.intake", veteran.username), {
      tenant_id: tenant,
      target: claimId,
      outcome: "success",
      traceId,
    });
  });

  it("registry create, update and delete", async () => {
    const name = `cov-${randomBytes(3).toString("hex")}`;
    const c = request("/api/v1/services", { method: "POST" });
    await createService(admin, serviceInput.parse({ name, instances: [{ url: "http://127.0.0.1:9/cov" }] }), {
      meta: c.meta,
    });
    expectComplete(await lastEvent("registry.service_create", admin.username), {
      tenant_id: tenant,
      target: name,
      outcome: "success",
      traceId: c.traceId,
    });
    const u = request(`/api/v1/services/${name}`, { method: "PATCH" });
    await updateService(admin, name, { description: "changed" }, { meta: u.meta });
    expectComplete(await lastEvent("registry.service_update", admin.username), {
      tenant_id: tenant,
      target: name,
      outcome: "success",
      traceId: u.traceId,
    });
    const d = request(`/api/v1/services/${name}`, { method: "DELETE" });
    await deleteService(admin, name, { meta: d.meta });
    expectComplete(await lastEvent("registry.service_delete", admin.username), {
      tenant_id: tenant,
      target: name,
      outcome: "success",
      traceId: d.traceId,
    });
  });

  it("breaker forcing", async () => {
    const operator = await createUser("operator", tenant);
    const svc = await createHealthService(systemPool(), tenant, {}, [
      { url: "http://127.0.0.1:9/cov/1", nextCheck: "never" },
    ]);
    const id = svc.instanceIds[0]!;
    const f = request(`/api/v1/circuits/${id}/force`, { method: "POST" });
    await forceFromRequest(pool(), operator, id, { state: "open" }, f.meta);
    expectComplete(await lastEvent("circuit.force", operator.username), {
      tenant_id: tenant,
      target: `instance:${id}`,
      outcome: "success",
      traceId: f.traceId,
    });
  });

  it("rate-limit changes (set and remove)", async () => {
    const s = request(`/api/v1/tenants/${tenant}/limits`, { method: "PUT" });
    await upsertLimit(admin, tenant, { rps: 50, burst: 100 }, { meta: s.meta });
    expectComplete(await lastEvent("ratelimit.update", admin.username), {
      tenant_id: tenant,
      outcome: "success",
      traceId: s.traceId,
    });
    const d = request(`/api/v1/tenants/${tenant}/limits`, { method: "DELETE" });
    await deleteLimit(admin, tenant, undefined, { meta: d.meta });
    expectComplete(await lastEvent("ratelimit.delete", admin.username), {
      tenant_id: tenant,
      outcome: "success",
      traceId: d.traceId,
    });
  });

  it("leaves the tenant's chain sealed and verifiable", async () => {
    await sealAuditChains(systemPool(), { chains: [tenant], mode: "sweep" });
    const v = await withTenant(tenant, (c) => verifyAuditChain(c, tenant));
    expect(v.ok).toBe(true);
    expect(v.checked).toBeGreaterThanOrEqual(8);
    expect(v.unsealed).toBe(0);
  });
});

type Authorize = (credentials: Record<string, string>, req: unknown) => Promise<unknown>;

async function signIn(username: string, password: string, req?: Request): Promise<unknown> {
  const provider = authOptions.providers[0] as unknown as { options: { authorize: Authorize } };
  const headers = Object.fromEntries((req ?? new Request("http://localhost/")).headers.entries());
  return provider.options.authorize({ username, password }, { headers, method: "POST", body: {}, query: {} });
}
