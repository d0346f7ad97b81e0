import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { makePdf } from "@/lib/documents/test-pdfs";
import { startTestGateway, type TestGateway } from "@/lib/gateway/test-gateway";
import { createHealthService, type TestService } from "@/lib/health/test-fixtures";
import { startUpstream, type Upstream } from "@/lib/health/test-upstream";
import { callRoute } from "@/lib/testing/call-route";
import { createAgency, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as getBoard } from "./v1/board/route";
import { POST as forceCircuit } from "./v1/circuits/[instanceId]/force/route";
import { GET as listCircuits } from "./v1/circuits/route";
import { GET as getDocument } from "./v1/claims/[id]/document/route";
import { GET as getClaim } from "./v1/claims/[id]/route";
import { GET as listClaims, POST as postClaim } from "./v1/claims/route";
import { GET as serviceCircuits } from "./v1/services/[name]/circuits/route";
import { GET as serviceFailures } from "./v1/services/[name]/failures/route";
import { GET as serviceHistory } from "./v1/services/[name]/history/route";
import { PATCH as patchInstance } from "./v1/services/[name]/instances/[id]/route";
import { DELETE as deleteService, GET as getService, PATCH as patchService } from "./v1/services/[name]/route";
import { GET as listServices } from "./v1/services/route";
import { DELETE as deleteLimits, GET as getLimits, PUT as putLimits } from "./v1/tenants/[tenant]/limits/route";
import { GET as getTraffic } from "./v1/traffic/route";
import { GET as claimEvents } from "./v1/claims/[id]/events/route";
import { POST as claimStatus } from "./v1/claims/[id]/status/route";
import { POST as bulkStatus } from "./v1/claims/status/route";
import { GET as stuckClaims } from "./v1/claims/stuck/route";
import { GET as deadLetters } from "./v1/queues/[queue]/dead/route";
import { POST as leaseMessages } from "./v1/queues/[queue]/lease/route";
import { POST as ackMessage } from "./v1/queues/[queue]/messages/[id]/ack/route";
import { POST as nackMessage } from "./v1/queues/[queue]/messages/[id]/nack/route";
import { POST as requeueMessage } from "./v1/queues/[queue]/messages/[id]/requeue/route";
import { DELETE as discardMessage } from "./v1/queues/[queue]/messages/[id]/route";
import { GET as queueStats } from "./v1/queues/route";
import { DELETE as revokeToken } from "./v1/services/[name]/tokens/[id]/route";
import { GET as listTokens, POST as issueToken } from "./v1/services/[name]/tokens/route";
import { createTestServiceToken } from "@/lib/claims/test-claims";

/**
 * The cross-tenant matrix (issue 5): every route that takes an id, a name or a tenant is called
 * by agency B's veteran, operator and admin with agency A's ids. Each must answer 404 — the same
 * as for something that does not exist, so nothing confirms A's data exists — must not echo any
 * of A's ids or names, and must change nothing of A's. Lists seen by B must not contain A's rows.
 */
type Handler = Parameters<typeof callRoute>[0];
interface Probe {
  name: string;
  handler: Handler;
  method?: string;
  path: string;
  params: Record<string, string>;
  body?: unknown;
}

let a: Awaited<ReturnType<typeof createAgency>> & { admin: TestUser };
let b: Awaited<ReturnType<typeof createAgency>> & { admin: TestUser };
let svc: TestService;
let claimId: string;
let upstream: Upstream;
let gw: TestGateway<never>;
let messageId: string;
let tokenIdA: string;
let tokenB: string;

/** Everything of A's that a cross-tenant call could change, as one comparable value. */
async function stateOfA() {
  const q = (sql: string) =>
    systemPool()
      .query(sql, [a.tenantId])
      .then((r) => r.rows);
  return {
    claims: await q(`SELECT id, status, updated_at FROM claims WHERE tenant_id = $1 ORDER BY id`),
    events: await q(`SELECT count(*)::int AS n FROM claim_events WHERE tenant_id = $1`),
    services: await q(
      `SELECT id, name, description, maintenance, updated_at FROM services WHERE tenant_id = $1 ORDER BY id`,
    ),
    instances: await q(`SELECT id, url, enabled, weight FROM instances WHERE tenant_id = $1 ORDER BY id`),
    circuits: await q(`SELECT instance_id, state, forced, version FROM circuits WHERE tenant_id = $1 ORDER BY 1`),
    limits: await q(`SELECT scope, rps, burst FROM rate_limits WHERE tenant_id = $1 ORDER BY scope`),
    messages: await q(`SELECT id, state, attempts, visible_at FROM queue_messages WHERE tenant_id = $1 ORDER BY id`),
    tokens: await q(`SELECT id, revoked_at FROM service_tokens WHERE tenant_id = $1 ORDER BY id`),
  };
}

beforeAll(async () => {
  a = { ...(await createAgency()), admin: await createUser("admin", null) };
  a.admin = await createUser("admin", a.tenantId);
  b = { ...(await createAgency()), admin: await createUser("admin", null) };
  b.admin = await createUser("admin", b.tenantId);
  upstream = await startUpstream({ kind: "echo" });
  svc = await createHealthService(systemPool(), a.tenantId, {}, [{ url: upstream.url, nextCheck: "never" }]);
  const res = await callRoute(postClaim, {
    method: "POST",
    path: "/api/v1/claims",
    token: a.veteran.token,
    headers: { "content-type": "application/pdf" },
    body: await makePdf(),
  });
  expect(res.status).toBe(201);
  claimId = (await res.json()).claim_id;
  await callRoute(putLimits, {
    method: "PUT",
    path: `/api/v1/tenants/${a.tenantId}/limits`,
    token: a.admin.token,
    params: { tenant: a.tenantId },
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ rps: 100, burst: 100 }),
  });
  gw = await startTestGateway<never>();
  // Issue 5: A's claim-review message and service token; B's own service token.
  messageId = (
    await systemPool().query<{ id: string }>(
      `SELECT id FROM queue_messages WHERE tenant_id = $1 AND queue = 'claim-review'`,
      [a.tenantId],
    )
  ).rows[0]!.id;
  await createTestServiceToken(a.tenantId);
  tokenIdA = (
    await systemPool().query<{ id: string }>(`SELECT id FROM service_tokens WHERE tenant_id = $1`, [a.tenantId])
  ).rows[0]!.id;
  tokenB = await createTestServiceToken(b.tenantId, "claim-review", []);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

function probes(): Probe[] {
  const name = svc.name;
  const instanceId = svc.instanceIds[0]!;
  const t = a.tenantId;
  return [
    { name: "claim", handler: getClaim, path: `/api/v1/claims/${claimId}`, params: { id: claimId } },
    {
      name: "claim document",
      handler: getDocument,
      path: `/api/v1/claims/${claimId}/document`,
      params: { id: claimId },
    },
    { name: "service", handler: getService, path: `/api/v1/services/${name}`, params: { name } },
    { name: "service ?tenant=", handler: getService, path: `/api/v1/services/${name}?tenant=${t}`, params: { name } },
    {
      name: "service update",
      handler: patchService,
      method: "PATCH",
      path: `/api/v1/services/${name}`,
      params: { name },
      body: { description: "taken over" },
    },
    {
      name: "service delete",
      handler: deleteService,
      method: "DELETE",
      path: `/api/v1/services/${name}`,
      params: { name },
    },
    {
      name: "instance drain",
      handler: patchInstance,
      method: "PATCH",
      path: `/api/v1/services/${name}/instances/${instanceId}`,
      params: { name, id: instanceId },
      body: { enabled: false },
    },
    { name: "service history", handler: serviceHistory, path: `/api/v1/services/${name}/history`, params: { name } },
    { name: "service failures", handler: serviceFailures, path: `/api/v1/services/${name}/failures`, params: { name } },
    { name: "service circuits", handler: serviceCircuits, path: `/api/v1/services/${name}/circuits`, params: { name } },
    {
      name: "force breaker",
      handler: forceCircuit,
      method: "POST",
      path: `/api/v1/circuits/${instanceId}/force`,
      params: { instanceId },
      body: { state: "open" },
    },
    { name: "circuits ?tenant=", handler: listCircuits, path: `/api/v1/circuits?tenant=${t}`, params: {} },
    { name: "board ?tenant=", handler: getBoard, path: `/api/v1/board?tenant=${t}`, params: {} },
    { name: "traffic ?tenant=", handler: getTraffic, path: `/api/v1/traffic?tenant=${t}`, params: {} },
    { name: "limits", handler: getLimits, path: `/api/v1/tenants/${t}/limits`, params: { tenant: t } },
    {
      name: "limits update",
      handler: putLimits,
      method: "PUT",
      path: `/api/v1/tenants/${t}/limits`,
      params: { tenant: t },
      body: { rps: 1, burst: 1 },
    },
    {
      name: "limits delete",
      handler: deleteLimits,
      method: "DELETE",
      path: `/api/v1/tenants/${t}/limits`,
      params: { tenant: t },
    },
    // Issue 5: claim lifecycle, live timeline, queues, service tokens.
    {
      name: "claim status",
      handler: claimStatus,
      method: "POST",
      path: `/api/v1/claims/${claimId}/status`,
      params: { id: claimId },
      body: { status: "IN_REVIEW" },
    },
    {
      name: "claim events (SSE)",
      handler: claimEvents,
      path: `/api/v1/claims/${claimId}/events`,
      params: { id: claimId },
    },
    { name: "stuck claims ?tenant=", handler: stuckClaims, path: `/api/v1/claims/stuck?tenant=${t}`, params: {} },
    { name: "queue stats ?tenant=", handler: queueStats, path: `/api/v1/queues?tenant=${t}`, params: {} },
    {
      name: "dead letters ?tenant=",
      handler: deadLetters,
      path: `/api/v1/queues/claim-review/dead?tenant=${t}`,
      params: { queue: "claim-review" },
    },
    ...(
      [
        ["ack", ackMessage, "POST", "/ack"],
        ["nack", nackMessage, "POST", "/nack"],
        ["requeue", requeueMessage, "POST", "/requeue"],
        ["discard", discardMessage, "DELETE", ""],
      ] as const
    ).map(([what, handler, method, suffix]) => ({
      name: `queue ${what}`,
      handler,
      method,
      path: `/api/v1/queues/claim-review/messages/${messageId}${suffix}`,
      params: { queue: "claim-review", id: messageId },
      ...(what === "nack" ? { body: { delaySeconds: 0 } } : {}),
    })),
    { name: "service tokens", handler: listTokens, path: `/api/v1/services/${name}/tokens`, params: { name } },
    {
      name: "service token issue",
      handler: issueToken,
      method: "POST",
      path: `/api/v1/services/claim-review/tokens?tenant=${t}`,
      params: { name: "claim-review" },
      body: {},
    },
    {
      name: "service token revoke",
      handler: revokeToken,
      method: "DELETE",
      path: `/api/v1/services/claim-review/tokens/${tokenIdA}`,
      params: { name: "claim-review", id: tokenIdA },
    },
  ];
}

/** A's identifiers that must never appear in an answer to B. */
function secretsOfA(): string[] {
  return [claimId, svc.id, svc.name, ...svc.instanceIds, a.tenantId, upstream.url, messageId, tokenIdA];
}

describe("cross-tenant matrix: agency B calling with agency A's ids", () => {
  it("answers 404 to every route, for every role that reaches the route, leaking nothing and changing nothing", async () => {
    const before = await stateOfA();
    const failures: string[] = [];
    for (const p of probes()) {
      for (const [role, token] of [
        ["veteran", b.veteran.token],
        ["operator", b.operator.token],
        ["admin", b.admin.token],
        ["service token", tokenB],
      ] as const) {
        const res = await callRoute(p.handler, {
          method: p.method ?? "GET",
          path: p.path,
          token,
          params: p.params,
          ...(p.body !== undefined
            ? { headers: { "content-type": "application/json" }, body: JSON.stringify(p.body) }
            : {}),
        });
        const text = await res.text();
        // A role the route refuses outright (403 role_forbidden; 401 for a service token on a
        // users-only route) learns nothing about A either.
        const refusedByRole =
          (res.status === 403 && text.includes('"role_forbidden"')) || (role === "service token" && res.status === 401);
        if (res.status !== 404 && !refusedByRole)
          failures.push(`${p.name} as ${role}: ${res.status} ${text.slice(0, 120)}`);
        // Echoing what the caller sent (a name in the path) tells them nothing new.
        const sent = p.path + JSON.stringify(p.body ?? "");
        for (const s of secretsOfA().filter((x) => !sent.includes(x))) {
          if (text.includes(s)) failures.push(`${p.name} as ${role}: answer contains ${s}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await stateOfA()).toEqual(before);
  });

  it("never lists A's rows to B: claims, services, breakers, board", async () => {
    const lists: [string, Handler, string, TestUser][] = [
      ["claims (veteran)", listClaims, "/api/v1/claims", b.veteran],
      ["claims (operator)", listClaims, "/api/v1/claims", b.operator],
      ["services", listServices, "/api/v1/services", b.operator],
      ["circuits", listCircuits, "/api/v1/circuits", b.operator],
      ["board", getBoard, "/api/v1/board", b.operator],
      ["traffic", getTraffic, "/api/v1/traffic", b.operator],
    ];
    for (const [label, handler, path, user] of lists) {
      const res = await callRoute(handler, { path, token: user.token });
      expect(res.status, label).toBe(200);
      const text = await res.text();
      for (const s of secretsOfA()) expect(text.includes(s), `${label} contains ${s}`).toBe(false);
    }
  });

  it("answers bulk status with A's ids as missing, and leases B's consumers nothing of A's", async () => {
    for (const token of [b.veteran.token, b.operator.token, tokenB]) {
      const res = await callRoute(bulkStatus, {
        method: "POST",
        path: "/api/v1/claims/status",
        token,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ids: [claimId] }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ items: [], missing: [claimId] });
    }
    const leased = await callRoute(leaseMessages, {
      method: "POST",
      path: "/api/v1/queues/claim-review/lease",
      token: tokenB,
      params: { queue: "claim-review" },
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ max: 100 }),
    });
    expect(leased.status).toBe(200);
    const text = await leased.text();
    for (const s of secretsOfA()) expect(text.includes(s), `lease contains ${s}`).toBe(false);
    const still = await systemPool().query(`SELECT state FROM queue_messages WHERE id = $1`, [messageId]);
    expect(still.rows[0].state).toBe("queued");
  });

  it("routes nothing of A's through the gateway for B's token: 404 like an unknown service", async () => {
    const mine = await fetch(`${gw.url}/api/v1/gw/${svc.name}/echo`, {
      headers: { authorization: `Bearer ${a.operator.token}` },
    });
    expect(mine.status).toBe(200); // the service is reachable for its own tenant
    const before = upstream.totalHits();
    for (const user of [b.veteran, b.operator, b.admin]) {
      const res = await fetch(`${gw.url}/api/v1/gw/${svc.name}/echo`, {
        headers: { authorization: `Bearer ${user.token}` },
      });
      expect(res.status).toBe(404);
      const missing = await fetch(`${gw.url}/api/v1/gw/no-such-service-x/echo`, {
        headers: { authorization: `Bearer ${user.token}` },
      });
      expect(missing.status).toBe(404);
      expect((await res.json()).code).toBe((await missing.json()).code);
    }
    expect(upstream.totalHits()).toBe(before);
  });
});
