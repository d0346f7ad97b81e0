import { Writable } from "node:stream";
import { createLocalJWKSet, jwtVerify } from "jose";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicJwks } from "../auth/signing-keys";
import { systemPool } from "../db/pool";
import { createHealthService } from "../health/test-fixtures";
import { startUpstream, type Upstream } from "../health/test-upstream";
import { createService, createServiceToken } from "../queue/testing/queue-fixtures";
import { servicePatch } from "../registry/service-schema";
import { updateService } from "../registry/service-repository";
import { createAgency, createUser } from "../testing/fixtures";
import { until } from "../testing/poll";
import { identityAudience } from "./identity-token";
import { startTestGateway, type TestGateway } from "./test-gateway";

/**
 * Who may call a service through the gateway (ARCHITECTURE.md §7 "Gateway"): each service's
 * `access` policy (default: staff of the tenant and every service token of the tenant, no
 * veterans), service tokens as callers (`service:<name>`), another tenant's service as 404.
 * A real gateway, real upstreams on 127.0.0.1 and the real database.
 */
const db = () => systemPool();

interface LogLine {
  msg?: string;
  caller?: string | null;
  service?: string;
  status?: number;
}
const logLines: LogLine[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) logLines.push(JSON.parse(line) as LogLine);
    done();
  },
});

let gw: TestGateway<never>;
const upstreams: Upstream[] = [];
async function echoUpstream(): Promise<Upstream> {
  const u = await startUpstream({ kind: "echo" });
  upstreams.push(u);
  return u;
}

beforeAll(async () => {
  gw = await startTestGateway<never>({ log: pino({ level: "info" }, logStream) });
});
afterAll(async () => {
  await gw.close();
  await Promise.all(upstreams.map((u) => u.close().catch(() => {})));
});

/** A service behind the gateway; `access` written as stored (null = the default policy). */
async function gatewayService(
  tenantId: string,
  u: Upstream,
  opts: { name?: string; access?: unknown; forwardIdentity?: boolean } = {},
) {
  const svc = await createHealthService(db(), tenantId, opts.name ? { name: opts.name } : {}, [
    { url: u.url, nextCheck: "never" },
  ]);
  if (opts.access !== undefined) {
    await db().query(`UPDATE services SET access = $2::jsonb WHERE id = $1`, [svc.id, JSON.stringify(opts.access)]);
  }
  if (opts.forwardIdentity) await db().query(`UPDATE services SET forward_identity = true WHERE id = $1`, [svc.id]);
  return svc;
}

function call(bearer: string, service: string, path = "/x") {
  return fetch(`${gw.url}/api/v1/gw/${service}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
}

async function problem(r: Response) {
  const body = (await r.json()) as { code: string; detail: string };
  return { status: r.status, contentType: r.headers.get("content-type"), code: body.code, detail: body.detail };
}

describe("the default policy: staff and the tenant's service tokens, no veterans", () => {
  it("refuses a veteran of the tenant with 403 gateway_forbidden, and the upstream receives nothing", async () => {
    const a = await createAgency();
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u);
    const p = await problem(await call(a.veteran.token, svc.name));
    expect(p).toMatchObject({ status: 403, contentType: "application/problem+json", code: "gateway_forbidden" });
    expect(p.detail).toBe(`The role "veteran" may not call "${svc.name}" through the gateway.`);
    expect(u.totalHits()).toBe(0);
  });

  it("lets an operator and an admin of the tenant through", async () => {
    const a = await createAgency();
    const admin = await createUser("admin", a.tenantId);
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u);
    expect((await call(a.operator.token, svc.name)).status).toBe(200);
    expect((await call(admin.token, svc.name)).status).toBe(200);
    expect(u.totalHits()).toBe(2);
  });

  it("keeps refusing a global admin (no tenant) with 403 tenant_forbidden", async () => {
    const a = await createAgency();
    const globalAdmin = await createUser("admin", null);
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u);
    expect(await problem(await call(globalAdmin.token, svc.name))).toMatchObject({
      status: 403,
      code: "tenant_forbidden",
    });
    expect(u.totalHits()).toBe(0);
  });
});

describe("service tokens as gateway callers", () => {
  it("lets a service token of the tenant through; the upstream and the access log see service:<name>", async () => {
    const a = await createAgency();
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u, { forwardIdentity: true });
    const caller = await createServiceToken(a.tenantId);
    const r = await call(caller.token, svc.name);
    expect(r.status).toBe(200);
    const echo = (await r.json()) as { headers: Record<string, string> };
    const forwarded = /^Bearer (.+)$/.exec(echo.headers.authorization ?? "")?.[1];
    expect(forwarded).toBeDefined();
    expect(forwarded).not.toBe(caller.token);
    const jwks = createLocalJWKSet(await publicJwks());
    const { payload } = await jwtVerify(forwarded!, jwks, { audience: identityAudience(a.tenantId, svc.name) });
    expect(payload.sub).toBe(`service:${caller.serviceName}`);
    expect(payload.tenant).toBe(a.tenantId);
    expect(payload.role).toBeUndefined(); // a service token has no user role
    await until(() => logLines.some((l) => l.msg === "gateway" && l.service === svc.name));
    const line = logLines.find((l) => l.msg === "gateway" && l.service === svc.name);
    expect(line?.caller).toBe(`service:${caller.serviceName}`);
  });

  it("names a user caller user:<id> in the access log", async () => {
    const a = await createAgency();
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u);
    expect((await call(a.operator.token, svc.name)).status).toBe(200);
    await until(() => logLines.some((l) => l.msg === "gateway" && l.service === svc.name));
    expect(logLines.find((l) => l.msg === "gateway" && l.service === svc.name)?.caller).toBe(
      `user:${a.operator.userId}`,
    );
  });

  it("answers another tenant's service token 404, exactly like an unknown service", async () => {
    const a = await createAgency();
    const b = await createAgency();
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u);
    const foreign = await createServiceToken(b.tenantId);
    const theirs = await problem(await call(foreign.token, svc.name));
    // The same name where B has no such service, asked by B's token for a name nobody has.
    const unknownName = `${svc.name}-nope`;
    const unknown = await problem(await call(foreign.token, unknownName));
    expect(theirs.status).toBe(404);
    expect({ ...theirs, detail: theirs.detail.replace(svc.name, "<name>") }).toEqual({
      ...unknown,
      detail: unknown.detail.replace(unknownName, "<name>"),
    });
    expect(u.totalHits()).toBe(0);
  });

  it("refuses a revoked token with 401 within about 5 s, also when another process revoked it", async () => {
    const a = await createAgency();
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u);
    const caller = await createServiceToken(a.tenantId);
    expect((await call(caller.token, svc.name)).status).toBe(200); // verified and cached now
    // Revoked in the database only (as the web process of another host would): no cache eviction here.
    await db().query(`UPDATE service_tokens SET revoked_at = now() WHERE id = $1`, [caller.id]);
    const started = performance.now();
    let last: { status: number; code?: string } = { status: 0 };
    const elapsed = await until(
      async () => {
        const r = await call(caller.token, svc.name);
        last = { status: r.status, code: ((await r.json()) as { code?: string }).code };
        return r.status === 401;
      },
      8_000,
      100,
    );
    expect(last).toEqual({ status: 401, code: "token_revoked" });
    expect(elapsed).toBeLessThan(6_000);
    expect(performance.now() - started).toBeLessThan(6_500);
  });

  it("answers an unknown service token 401", async () => {
    const a = await createAgency();
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u);
    const r = await problem(await call("hms_svc_" + "A".repeat(43), svc.name));
    expect(r).toMatchObject({ status: 401, code: "token_invalid_signature" });
    expect(u.totalHits()).toBe(0);
  });
});

describe("a service's own policy", () => {
  it('lets the veteran in with access {"roles": ["veteran"]} (and then only veterans)', async () => {
    const a = await createAgency();
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u, { access: { roles: ["veteran"], services: [] } });
    expect((await call(a.veteran.token, svc.name)).status).toBe(200);
    expect(await problem(await call(a.operator.token, svc.name))).toMatchObject({
      status: 403,
      code: "gateway_forbidden",
    });
    expect(u.totalHits()).toBe(1);
  });

  it('lets only the listed service\'s token in with access {"services": ["billing"]}', async () => {
    const a = await createAgency();
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u, {
      access: { roles: ["operator", "admin"], services: ["billing"] },
    });
    const billing = await createServiceToken(a.tenantId, { serviceName: await createService(a.tenantId, "billing") });
    const other = await createServiceToken(a.tenantId);
    expect((await call(billing.token, svc.name)).status).toBe(200);
    expect(await problem(await call(other.token, svc.name))).toMatchObject({ status: 403, code: "gateway_forbidden" });
    expect(u.totalHits()).toBe(1);
  });

  it("an access change through the registry reaches a running gateway within moments (NOTIFY)", async () => {
    const a = await createAgency();
    const admin = await createUser("admin", a.tenantId);
    const u = await echoUpstream();
    const svc = await gatewayService(a.tenantId, u);
    expect((await call(a.veteran.token, svc.name)).status).toBe(403); // loaded into the routing table
    await updateService(admin, svc.name, servicePatch.parse({ access: { roles: ["veteran", "operator"] } }));
    // The NOTIFY arrives in milliseconds; the 30 s resync must not be what brought it.
    const elapsed = await until(async () => (await call(a.veteran.token, svc.name)).status === 200, 5_000, 25);
    expect(elapsed).toBeLessThan(2_000);
    // And back: the default policy shuts veterans out again.
    await updateService(admin, svc.name, servicePatch.parse({ access: {} }));
    await until(async () => (await call(a.veteran.token, svc.name)).status === 403, 3_000, 25);
  });
});
