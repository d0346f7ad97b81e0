import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "../db/pool";
import { createHealthService } from "../health/test-fixtures";
import { startUpstream, type Upstream } from "../health/test-upstream";
import { createAgency } from "../testing/fixtures";
import { startTestGateway, type TestGateway } from "./test-gateway";

/**
 * Retries and failover of a call that failed without an answer (ARCHITECTURE.md §7 Gateway): a
 * request the upstream may already have received goes to another instance only when it is GET,
 * HEAD, OPTIONS, PUT, DELETE or carries Idempotency-Key; a connection that was refused (nothing
 * sent) is retried for any method. Real upstreams on 127.0.0.1 count what they received.
 */
let gw: TestGateway<never>;
const upstreams: Upstream[] = [];
let tenantId: string;
let token: string;

beforeAll(async () => {
  gw = await startTestGateway<never>();
  const a = await createAgency();
  tenantId = a.tenantId;
  token = a.operator.token;
});
afterAll(async () => {
  await gw.close();
  await Promise.all(upstreams.map((u) => u.close().catch(() => {})));
});

async function upstream(mode: Parameters<typeof startUpstream>[0]): Promise<Upstream> {
  const u = await startUpstream(mode);
  upstreams.push(u);
  return u;
}

/**
 * A service whose first pick is `first` (weight 100 against 1: smooth weighted round-robin
 * starts with the heaviest) and whose only other instance is an echo upstream.
 */
async function service(firstUrl: string) {
  const second = await upstream({ kind: "echo" });
  const svc = await createHealthService(systemPool(), tenantId, {}, [
    { url: firstUrl, nextCheck: "never" },
    { url: second.url, nextCheck: "never" },
  ]);
  await systemPool().query(`UPDATE instances SET weight = 100 WHERE id = $1`, [svc.instanceIds[0]]);
  return { name: svc.name, second };
}

function call(name: string, init: RequestInit = {}) {
  return fetch(`${gw.url}/api/v1/gw/${name}/orders`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  });
}

describe("a connection reset after the upstream read the request", () => {
  it.each(["POST", "PATCH"])("a bodyless %s is not retried: one receipt, 502", async (method) => {
    const first = await upstream({ kind: "reset" });
    const { name, second } = await service(first.url);
    const r = await call(name, { method });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { code: string }).code).toBe("upstream_failed");
    expect(first.totalHits()).toBe(1);
    expect(second.totalHits()).toBe(0);
  });

  it.each(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])("%s is retried on the next instance: 200", async (method) => {
    const first = await upstream({ kind: "reset" });
    const { name, second } = await service(first.url);
    const r = await call(name, { method });
    expect(r.status).toBe(200);
    expect(first.totalHits()).toBe(1);
    expect(second.totalHits()).toBe(1);
  });

  it("a POST with Idempotency-Key is retried: the key makes running it twice safe", async () => {
    const first = await upstream({ kind: "reset" });
    const { name, second } = await service(first.url);
    const r = await call(name, { method: "POST", headers: { "idempotency-key": "k-1" } });
    expect(r.status).toBe(200);
    const echo = (await r.json()) as { method: string; headers: Record<string, string> };
    expect(echo).toMatchObject({ method: "POST", headers: { "idempotency-key": "k-1" } });
    expect(first.totalHits()).toBe(1);
    expect(second.totalHits()).toBe(1);
  });
});

describe("a connection that was refused (nothing was sent)", () => {
  it("a bodyless POST is retried on the next instance", async () => {
    const first = await upstream({ kind: "ok" });
    await first.down(); // the port refuses connections now
    const { name, second } = await service(first.url);
    const r = await call(name, { method: "POST" });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { method: string }).method).toBe("POST");
    expect(second.totalHits()).toBe(1);
  });

  it("a POST with a body is retried when the address policy refused the first instance (the body was not read)", async () => {
    // 10.0.0.0/8 is outside the test gateway's loopback-only policy: refused before connecting.
    const { name, second } = await service("http://10.255.255.1:9");
    const r = await call(name, { method: "POST", body: "hello", headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(200);
    expect((await r.json()) as { method: string; bodyBytes: number }).toMatchObject({ method: "POST", bodyBytes: 5 });
    expect(second.totalHits()).toBe(1);
  });
});
