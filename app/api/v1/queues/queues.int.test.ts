import { afterAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { createServiceToken } from "@/lib/queue/testing/queue-fixtures";
import { stopQueueWakeups } from "@/lib/queue/queue-wakeups";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createTenant, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as deadRoute } from "./[queue]/dead/route";
import { POST as leaseRoute } from "./[queue]/lease/route";
import { POST as ackRoute } from "./[queue]/messages/[id]/ack/route";
import { POST as nackRoute } from "./[queue]/messages/[id]/nack/route";
import { POST as requeueRoute } from "./[queue]/messages/[id]/requeue/route";
import { DELETE as discardRoute } from "./[queue]/messages/[id]/route";
import { POST as sendRoute } from "./[queue]/messages/route";
import { GET as statsRoute } from "./route";

/**
 * The queue routes as Next.js serves them (the same lib functions the lean data plane uses):
 * the data plane's four calls, the operators' figures and dead letters, and requeue / discard
 * with their audit events. Each test makes its own tenant.
 */
afterAll(async () => {
  await stopQueueWakeups();
});

let n = 0;
const freshQueue = () => `rq${++n}-${Date.now().toString(36)}`;

function post(handler: typeof sendRoute, token: string, path: string, params: Record<string, string>, body?: unknown) {
  return callRoute(handler, {
    method: "POST",
    path,
    token,
    headers: { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
    params,
  });
}

async function sendVia(token: string, queue: string, payload: Record<string, unknown>) {
  const r = await post(sendRoute, token, `/api/v1/queues/${queue}/messages`, { queue }, { payload });
  expect(r.status).toBe(201);
  return ((await r.json()) as { id: string }).id;
}

async function leaseVia(token: string, queue: string, body: object = {}) {
  const r = await post(leaseRoute, token, `/api/v1/queues/${queue}/lease`, { queue }, body);
  expect(r.status).toBe(200);
  return ((await r.json()) as { messages: { id: string; payload: unknown; attempts: number }[] }).messages;
}

/** A message that has died after one failed delivery. */
async function deadMessage(token: string, tenant: string, queue: string, payload: Record<string, unknown>) {
  await systemPool().query(
    `INSERT INTO queues (tenant_id, name, max_attempts) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING`,
    [tenant, queue],
  );
  const id = await sendVia(token, queue, payload);
  const [m] = await leaseVia(token, queue);
  expect(m!.id).toBe(id);
  const nack = await post(
    nackRoute,
    token,
    `/api/v1/queues/${queue}/messages/${id}/nack`,
    { queue, id },
    {
      error: "could not parse",
    },
  );
  expect(nack.status).toBe(204);
  return id;
}

async function auditOf(action: string, target: string) {
  const { rows } = await systemPool().query<{ tenant_id: string; actor: string; data: Record<string, unknown> }>(
    `SELECT tenant_id, actor, data FROM audit_events WHERE action = $1 AND target = $2`,
    [action, target],
  );
  return rows;
}

describe("the data plane through Next.js route handlers", () => {
  it("send → lease → ack and nack with the contract's shapes", async () => {
    const tenant = await createTenant("rq");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await sendVia(token, queue, { claimId: "CLM-9" });
    const other = await sendVia(token, queue, { claimId: "CLM-10" });
    const msgs = await leaseVia(token, queue, { max: 2, visibilitySeconds: 60 });
    expect(msgs).toEqual([
      { id, payload: { claimId: "CLM-9" }, attempts: 1 },
      { id: other, payload: { claimId: "CLM-10" }, attempts: 1 },
    ]);
    const ack = await post(ackRoute, token, `/api/v1/queues/${queue}/messages/${id}/ack`, { queue, id });
    expect(ack.status).toBe(204);
    expect(await ack.text()).toBe("");
    const nack = await post(
      nackRoute,
      token,
      `/api/v1/queues/${queue}/messages/${other}/nack`,
      { queue, id: other },
      {
        delaySeconds: 0,
      },
    );
    expect(nack.status).toBe(204);
    const again = await post(ackRoute, token, `/api/v1/queues/${queue}/messages/${id}/ack`, { queue, id });
    expect(again.status).toBe(409);
    expect((await problemOf(again)).code).toBe("message_not_leased");
  });

  it("refuses a call without a token (401) and a token for other queues (403 queue_forbidden)", async () => {
    const tenant = await createTenant("rq");
    const { token } = await createServiceToken(tenant, { queues: ["only-this"] });
    const none = await callRoute(sendRoute, {
      method: "POST",
      path: "/api/v1/queues/x/messages",
      body: JSON.stringify({ payload: {} }),
      params: { queue: "x" },
    });
    expect(none.status).toBe(401);
    const r = await post(sendRoute, token, "/api/v1/queues/x/messages", { queue: "x" }, { payload: {} });
    expect(r.status).toBe(403);
    expect((await problemOf(r)).code).toBe("queue_forbidden");
  });

  it("refuses a payload over 256 KiB with 413", async () => {
    const tenant = await createTenant("rq");
    const { token } = await createServiceToken(tenant);
    const r = await post(
      sendRoute,
      token,
      "/api/v1/queues/big/messages",
      { queue: "big" },
      {
        payload: { s: "é".repeat(140 * 1024) },
      },
    );
    expect(r.status).toBe(413);
    expect((await problemOf(r)).code).toBe("payload_too_large");
  });
});

describe("operators: figures, dead letters, requeue, discard", () => {
  it("GET /api/v1/queues shows depth, in-flight, delayed, dead, done in the last hour, oldest age and last lease", async () => {
    const tenant = await createTenant("rq");
    const operator = await createUser("operator", tenant);
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    await deadMessage(token, tenant, queue, { d: 1 });
    const done = await sendVia(token, queue, { k: "done" });
    await leaseVia(token, queue);
    await post(ackRoute, token, `/api/v1/queues/${queue}/messages/${done}/ack`, { queue, id: done });
    await sendVia(token, queue, { k: "in-flight" });
    await leaseVia(token, queue, { visibilitySeconds: 60 });
    await sendVia(token, queue, { k: "ready-1" });
    await sendVia(token, queue, { k: "ready-2" });
    await post(sendRoute, token, `/api/v1/queues/${queue}/messages`, { queue }, { payload: {}, delaySeconds: 600 });
    await systemPool().query(
      `UPDATE queue_messages SET created_at = now() - interval '90 seconds' WHERE tenant_id = $1 AND payload->>'k' = 'ready-1'`,
      [tenant],
    );
    const r = await callRoute(statsRoute, { path: "/api/v1/queues", token: operator.token });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { items: Record<string, unknown>[]; nextCursor: null };
    expect(body.nextCursor).toBeNull();
    expect(body.items).toHaveLength(1);
    const s = body.items[0]!;
    expect(s).toMatchObject({
      tenant,
      queue,
      depth: 2,
      delayed: 1,
      inFlight: 1,
      dead: 1,
      doneLastHour: 1,
      maxAttempts: 1,
      visibilitySeconds: 30,
    });
    expect(s.oldestReadyAgeSeconds).toBeGreaterThanOrEqual(89);
    expect(s.oldestReadyAgeSeconds).toBeLessThan(120);
    expect(Math.abs(Date.parse(s.lastLeaseAt as string) - Date.now())).toBeLessThan(10_000);
  });

  it("another tenant's operator sees none of these queues; a veteran may not look", async () => {
    const a = await createTenant("rq");
    const b = await createTenant("rq");
    const { token } = await createServiceToken(a);
    await sendVia(token, freshQueue(), { x: 1 });
    const opB = await createUser("operator", b);
    const r = await callRoute(statsRoute, { path: "/api/v1/queues", token: opB.token });
    expect(((await r.json()) as { items: unknown[] }).items).toEqual([]);
    const vet = await createUser("veteran", a);
    expect((await callRoute(statsRoute, { path: "/api/v1/queues", token: vet.token })).status).toBe(403);
  });

  it("lists dead letters newest first with attempts and last error, in keyset pages", async () => {
    const tenant = await createTenant("rq");
    const operator = await createUser("operator", tenant);
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await deadMessage(token, tenant, queue, { i }));
    const seen: { id: string; attempts: number; lastError: string | null; payloadPreview: string }[] = [];
    let cursor: string | null = null;
    do {
      const qs: string = `?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const r = await callRoute(deadRoute, {
        path: `/api/v1/queues/${queue}/dead${qs}`,
        token: operator.token,
        params: { queue },
      });
      expect(r.status).toBe(200);
      const page = (await r.json()) as { items: typeof seen; nextCursor: string | null };
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.map((d) => d.id)).toEqual([...ids].reverse());
    expect(seen[0]).toMatchObject({ attempts: 1, lastError: "could not parse", payloadPreview: '{"i": 2}' });
  });

  it("requeue puts a dead message back with attempts reset, audited in the same transaction", async () => {
    const tenant = await createTenant("rq");
    const operator = await createUser("operator", tenant);
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await deadMessage(token, tenant, queue, { r: 1 });
    const r = await callRoute(requeueRoute, {
      method: "POST",
      path: `/api/v1/queues/${queue}/messages/${id}/requeue`,
      token: operator.token,
      params: { queue, id },
    });
    expect(r.status).toBe(204);
    expect(await leaseVia(token, queue)).toEqual([{ id, payload: { r: 1 }, attempts: 1 }]);
    const audit = await auditOf("queue.message_requeued", `${queue}/${id}`);
    expect(audit).toEqual([
      { tenant_id: tenant, actor: operator.username, data: { queue, attempts: 1, lastError: "could not parse" } },
    ]);
    // Not dead any more: a second requeue is a conflict, and writes no second audit event.
    const again = await callRoute(requeueRoute, {
      method: "POST",
      path: `/api/v1/queues/${queue}/messages/${id}/requeue`,
      token: operator.token,
      params: { queue, id },
    });
    expect(again.status).toBe(409);
    expect(await auditOf("queue.message_requeued", `${queue}/${id}`)).toHaveLength(1);
  });

  it("discard deletes the message, audited with what it was", async () => {
    const tenant = await createTenant("rq");
    const admin = await createUser("admin", tenant);
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await deadMessage(token, tenant, queue, { claimId: "CLM-5" });
    const r = await callRoute(discardRoute, {
      method: "DELETE",
      path: `/api/v1/queues/${queue}/messages/${id}`,
      token: admin.token,
      params: { queue, id },
    });
    expect(r.status).toBe(204);
    const { rows } = await systemPool().query(`SELECT 1 FROM queue_messages WHERE id = $1`, [id]);
    expect(rows).toEqual([]);
    expect(await auditOf("queue.message_discarded", `${queue}/${id}`)).toEqual([
      {
        tenant_id: tenant,
        actor: admin.username,
        data: { queue, state: "dead", attempts: 1, lastError: "could not parse", payload: { claimId: "CLM-5" } },
      },
    ]);
  });

  it("another tenant's operator gets 404 for requeue and discard, and nothing changes", async () => {
    const a = await createTenant("rq");
    const b = await createTenant("rq");
    const { token } = await createServiceToken(a);
    const opB: TestUser = await createUser("operator", b);
    const queue = freshQueue();
    const id = await deadMessage(token, a, queue, { x: 1 });
    const requeue = await callRoute(requeueRoute, {
      method: "POST",
      path: `/api/v1/queues/${queue}/messages/${id}/requeue`,
      token: opB.token,
      params: { queue, id },
    });
    expect(requeue.status).toBe(404);
    const discard = await callRoute(discardRoute, {
      method: "DELETE",
      path: `/api/v1/queues/${queue}/messages/${id}`,
      token: opB.token,
      params: { queue, id },
    });
    expect(discard.status).toBe(404);
    const dead = await callRoute(deadRoute, {
      path: `/api/v1/queues/${queue}/dead`,
      token: opB.token,
      params: { queue },
    });
    expect(((await dead.json()) as { items: unknown[] }).items).toEqual([]);
    const { rows } = await systemPool().query(`SELECT state FROM queue_messages WHERE id = $1`, [id]);
    expect(rows).toEqual([{ state: "dead" }]);
  });

  it("a global admin sees every tenant's queues, or one tenant's with ?tenant=, and may requeue there", async () => {
    const a = await createTenant("rq");
    const { token } = await createServiceToken(a);
    const global = await createUser("admin", null);
    const queue = freshQueue();
    const id = await deadMessage(token, a, queue, { g: 1 });
    const all = await callRoute(statsRoute, { path: "/api/v1/queues", token: global.token });
    const allItems = ((await all.json()) as { items: { tenant: string; queue: string }[] }).items;
    expect(allItems).toContainEqual(expect.objectContaining({ tenant: a, queue }));
    const one = await callRoute(statsRoute, { path: `/api/v1/queues?tenant=${a}`, token: global.token });
    const oneItems = ((await one.json()) as { items: { tenant: string }[] }).items;
    expect(oneItems.every((i) => i.tenant === a)).toBe(true);
    const r = await callRoute(requeueRoute, {
      method: "POST",
      path: `/api/v1/queues/${queue}/messages/${id}/requeue?tenant=${a}`,
      token: global.token,
      params: { queue, id },
    });
    expect(r.status).toBe(204);
    expect(await auditOf("queue.message_requeued", `${queue}/${id}`)).toHaveLength(1);
  });
});
