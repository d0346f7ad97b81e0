import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokeServiceToken } from "../auth/service-token-admin";
import { systemPool } from "../db/pool";
import { withTenant } from "../db/tenant-scope";
import { createTenant, createUser } from "../testing/fixtures";
import { runQueueMaintenance } from "./queue-maintenance";
import { leaseMessages, sendMessage } from "./queue-store";
import { queueWakeups, stopQueueWakeups } from "./queue-wakeups";
import { createServiceToken, queuePost, startQueueServer, type QueueServer } from "./testing/queue-fixtures";
import { until } from "../testing/poll";

/**
 * HMS-SVC queues end to end: the lean data plane (queue-http.ts) on a real node:http server,
 * service tokens, the real database with row-level security, LISTEN/NOTIFY wake-ups.
 */
let server: QueueServer;
beforeAll(async () => {
  server = await startQueueServer();
});
afterAll(async () => {
  await server.close();
  await stopQueueWakeups();
});

interface Leased {
  messages: { id: string; payload: Record<string, unknown>; attempts: number }[];
}

let n = 0;
const freshQueue = () => `q${++n}-${Date.now().toString(36)}`;

async function send(token: string, queue: string, payload: Record<string, unknown>, extra: object = {}) {
  const r = await queuePost(server, token, `${queue}/messages`, { payload, ...extra });
  expect(r.status).toBe(201);
  return ((await r.json()) as { id: string }).id;
}

async function lease(token: string, queue: string, body: object = {}, signal?: AbortSignal) {
  const r = await queuePost(server, token, `${queue}/lease`, body, signal ? { signal } : {});
  expect(r.status).toBe(200);
  return ((await r.json()) as Leased).messages;
}

async function row(id: string) {
  const { rows } = await systemPool().query<{
    state: string;
    attempts: number;
    last_error: string | null;
    visible_at: Date;
    finished_at: Date | null;
  }>(`SELECT state, attempts, last_error, visible_at, finished_at FROM queue_messages WHERE id = $1`, [id]);
  return rows[0];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function problem(r: Response) {
  expect(r.headers.get("content-type")).toBe("application/problem+json");
  return (await r.json()) as { status: number; code: string };
}

describe("send, lease, ack, nack", () => {
  it("delivers a sent message once with attempts 1, acks it to done, and refuses a second ack with 409", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await send(token, queue, { claimId: "CLM-1", n: 1 });
    const got = await lease(token, queue, { max: 10 });
    expect(got).toEqual([{ id, payload: { claimId: "CLM-1", n: 1 }, attempts: 1 }]);
    expect(await lease(token, queue)).toEqual([]);

    const ack = await queuePost(server, token, `${queue}/messages/${id}/ack`);
    expect(ack.status).toBe(204);
    expect(await row(id)).toMatchObject({ state: "done", attempts: 1 });
    expect((await row(id))!.finished_at).not.toBeNull();

    const again = await queuePost(server, token, `${queue}/messages/${id}/ack`);
    expect(again.status).toBe(409);
    expect((await problem(again)).code).toBe("message_not_leased");
  });

  it("creates the queue row on first send with the default settings", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    await send(token, queue, { a: 1 });
    await send(token, queue, { a: 2 });
    const { rows } = await systemPool().query(
      `SELECT max_attempts, visibility_seconds FROM queues WHERE tenant_id = $1 AND name = $2`,
      [tenant, queue],
    );
    expect(rows).toEqual([{ max_attempts: 5, visibility_seconds: 30 }]);
  });

  it("leases a batch in send order up to max", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await send(token, queue, { i }));
    const first = await lease(token, queue, { max: 3 });
    expect(first.map((m) => m.id)).toEqual(ids.slice(0, 3));
    const rest = await lease(token, queue, { max: 100 });
    expect(rest.map((m) => m.id)).toEqual(ids.slice(3));
  });

  it("answers 404 for an unknown or malformed message id", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const unknown = await queuePost(server, token, `${queue}/messages/6f1c1c4e-0000-4000-8000-000000000000/ack`);
    expect(unknown.status).toBe(404);
    expect((await problem(unknown)).code).toBe("not_found");
    const malformed = await queuePost(server, token, `${queue}/messages/not-a-uuid/nack`, {});
    expect(malformed.status).toBe(404);
  });

  it("nack puts the message back, honouring its delay, and keeps the error", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await send(token, queue, { x: 1 });
    await lease(token, queue);
    const nack = await queuePost(server, token, `${queue}/messages/${id}/nack`, {
      delaySeconds: 1,
      error: "upstream said 503",
    });
    expect(nack.status).toBe(204);
    expect(await row(id)).toMatchObject({ state: "queued", attempts: 1, last_error: "upstream said 503" });
    const nackedAt = Date.now();
    expect(await lease(token, queue)).toEqual([]);
    // Long-poll: the delayed message is picked up once visible (within the ~1 s fallback tick).
    const got = await lease(token, queue, { waitSeconds: 5 });
    expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(900);
    expect(got).toEqual([{ id, payload: { x: 1 }, attempts: 2 }]);
  });

  it("a message sent with delaySeconds is not leased before its time", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await send(token, queue, { d: 1 }, { delaySeconds: 2 });
    expect(await lease(token, queue)).toEqual([]);
    const r = await row(id);
    expect(r!.visible_at.getTime() - Date.now()).toBeGreaterThan(1_000);
  });

  it("nack without a delay makes the message leasable at once", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await send(token, queue, { x: 1 });
    await lease(token, queue);
    expect((await queuePost(server, token, `${queue}/messages/${id}/nack`)).status).toBe(204);
    expect((await lease(token, queue)).map((m) => [m.id, m.attempts])).toEqual([[id, 2]]);
  });
});

describe("visibility, redelivery and dead letters", () => {
  it("redelivers a message whose lease expired, with attempts + 1", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await send(token, queue, { v: 1 });
    expect((await lease(token, queue, { visibilitySeconds: 1 }))[0]!.attempts).toBe(1);
    expect(await lease(token, queue)).toEqual([]); // still leased
    await sleep(1_100);
    const again = await lease(token, queue, { visibilitySeconds: 30 });
    expect(again).toEqual([{ id, payload: { v: 1 }, attempts: 2 }]);
    expect(await row(id)).toMatchObject({ state: "leased", attempts: 2 });
  });

  it("moves a message to dead after max attempts of nack, with its last error", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    await systemPool().query(`INSERT INTO queues (tenant_id, name, max_attempts) VALUES ($1, $2, 2)`, [tenant, queue]);
    const id = await send(token, queue, { p: 1 });
    for (let i = 1; i <= 2; i++) {
      const [m] = await lease(token, queue);
      expect(m!.attempts).toBe(i);
      expect((await queuePost(server, token, `${queue}/messages/${id}/nack`, { error: `failure ${i}` })).status).toBe(
        204,
      );
    }
    expect(await row(id)).toMatchObject({ state: "dead", attempts: 2, last_error: "failure 2" });
    expect(await lease(token, queue)).toEqual([]);
    const late = await queuePost(server, token, `${queue}/messages/${id}/ack`);
    expect(late.status).toBe(409);
  });

  it("a lease that expires on the last attempt sends the message to dead instead of redelivering it", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    await systemPool().query(`INSERT INTO queues (tenant_id, name, max_attempts) VALUES ($1, $2, 1)`, [tenant, queue]);
    const id = await send(token, queue, { p: 1 });
    await lease(token, queue, { visibilitySeconds: 1 });
    await sleep(1_100);
    expect(await lease(token, queue)).toEqual([]);
    expect(await row(id)).toMatchObject({ state: "dead", attempts: 1, last_error: "lease expired 1 times" });
  });

  it("the maintenance loop moves exhausted expired leases to dead without any lease call, and trims old done messages", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    await systemPool().query(`INSERT INTO queues (tenant_id, name, max_attempts) VALUES ($1, $2, 1)`, [tenant, queue]);
    const stuck = await send(token, queue, { p: 1 });
    await lease(token, queue, { visibilitySeconds: 1 });
    const oldDone = await send(token, queue, { p: 2 });
    const recentDone = await send(token, queue, { p: 3 });
    await systemPool().query(
      `UPDATE queue_messages SET state = 'done', finished_at = now() - CASE WHEN id = $1 THEN interval '8 days' ELSE interval '6 days' END
        WHERE id IN ($1, $2)`,
      [oldDone, recentDone],
    );
    await sleep(1_100);
    const r = await runQueueMaintenance(systemPool());
    expect(r.expiredToDead).toBeGreaterThanOrEqual(1);
    expect(r.doneDeleted).toBeGreaterThanOrEqual(1);
    expect(await row(stuck)).toMatchObject({ state: "dead", last_error: "lease expired 1 times" });
    expect(await row(oldDone)).toBeUndefined();
    expect(await row(recentDone)).toMatchObject({ state: "done" });
  });
});

describe("concurrency", () => {
  it("concurrent leasers never receive the same message (SKIP LOCKED), and together receive all of them", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const total = 300;
    const sent = new Set<string>();
    await Promise.all(
      Array.from({ length: 10 }, async (_, w) => {
        for (let i = w; i < total; i += 10) sent.add(await send(token, queue, { i }));
      }),
    );
    const received: string[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (;;) {
          const got = await lease(token, queue, { max: 7 });
          if (got.length === 0) return;
          received.push(...got.map((m) => m.id));
        }
      }),
    );
    expect(received.length).toBe(total);
    expect(new Set(received).size).toBe(total);
    expect(new Set(received)).toEqual(sent);
  });
});

describe("grouped statements under load", () => {
  it("concurrent sends share statements, and one unstorable payload among them fails alone", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    await send(token, queue, { warm: true }); // the queue is known from here on
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        queuePost(server, token, `${queue}/messages`, { payload: i === 17 ? { s: "a\u0000b" } : { i } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 40 }, (_, i) => (i === 17 ? 422 : 201)));
    const { rows } = await systemPool().query(`SELECT count(*)::int AS n FROM queue_messages WHERE tenant_id = $1`, [
      tenant,
    ]);
    expect(rows[0]).toEqual({ n: 40 });
  });

  it("concurrent acks of the same message: exactly one 204, the others 409; unknown ids 404", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await send(token, queue, { i }));
    await lease(token, queue, { max: 10 });
    const calls = [
      ...ids.map((id) => `${queue}/messages/${id}/ack`),
      `${queue}/messages/${ids[0]}/ack`,
      `${queue}/messages/${ids[0]}/ack`,
      `${queue}/messages/6f1c1c4e-0000-4000-8000-000000000001/ack`,
    ];
    const statuses = (await Promise.all(calls.map((c) => queuePost(server, token, c)))).map((r) => r.status);
    expect(
      statuses.slice(0, 5).filter((s) => s === 204).length + statuses.slice(5, 7).filter((s) => s === 204).length,
    ).toBe(5);
    expect([statuses[0], statuses[5], statuses[6]].sort()).toEqual([204, 409, 409]);
    expect(statuses.slice(1, 5)).toEqual([204, 204, 204, 204]);
    expect(statuses[7]).toBe(404);
  });
});

describe("long-poll", () => {
  it("returns within ~100 ms of a send to the same process", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const polling = lease(token, queue, { waitSeconds: 10 }).then((m) => ({ m, at: performance.now() }));
    await until(() => queueWakeups().waiting(tenant, queue) === 1);
    const sentAt = performance.now();
    const id = await send(token, queue, { hello: "there" });
    const { m, at } = await polling;
    expect(m.map((x) => x.id)).toEqual([id]);
    expect(at - sentAt).toBeLessThan(150);
  });

  it("wakes on a NOTIFY from another process (a row inserted elsewhere), well before the 1 s fallback", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    // A first wait starts the LISTEN connection.
    await lease(token, queue, { waitSeconds: 0.05 });
    await until(() => queueWakeups().isListening);
    // Let the wait begin its 1 s fallback tick, so only the NOTIFY can end it early.
    const polling = lease(token, queue, { waitSeconds: 10 }).then((m) => ({ m, at: performance.now() }));
    await until(() => queueWakeups().waiting(tenant, queue) === 1);
    await sleep(50);
    const other = systemPool();
    const sentAt = performance.now();
    await other.query(
      `INSERT INTO queue_messages (id, tenant_id, queue, payload) VALUES (gen_random_uuid(), $1, $2, '{"from":"elsewhere"}')`,
      [tenant, queue],
    );
    await other.query(`SELECT pg_notify('hms_queue', $1)`, [`${tenant}/${queue}`]);
    const { m, at } = await polling;
    expect(m.map((x) => x.payload)).toEqual([{ from: "elsewhere" }]);
    expect(at - sentAt).toBeLessThan(300);
  });

  it("returns an empty list when the wait ends with nothing sent", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const t0 = performance.now();
    expect(await lease(token, queue, { waitSeconds: 1 })).toEqual([]);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(1_600);
    expect(queueWakeups().waiting(tenant, queue)).toBe(0);
  });

  it("a client that goes away frees its waiter, and a later message goes to the next consumer", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const ac = new AbortController();
    const gone = lease(token, queue, { waitSeconds: 15 }, ac.signal).catch((e: unknown) => e);
    await until(() => queueWakeups().waiting(tenant, queue) === 1);
    ac.abort();
    expect(await gone).toBeInstanceOf(Error);
    await until(() => queueWakeups().waiting(tenant, queue) === 0, 1_000);
    const id = await send(token, queue, { after: "abort" });
    expect((await row(id))!.state).toBe("queued");
    expect((await lease(token, queue)).map((m) => m.id)).toEqual([id]);
  });

  it("keeps waking waiters after the LISTEN connection drops and comes back", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    await lease(token, queue, { waitSeconds: 0.05 });
    await until(() => queueWakeups().isListening);
    const before = queueWakeups().stats.connects;
    queueWakeups().breakConnectionForTest();
    await until(() => queueWakeups().stats.connects > before && queueWakeups().isListening, 5_000);
    const polling = lease(token, queue, { waitSeconds: 10 }).then((m) => ({ m, at: performance.now() }));
    await until(() => queueWakeups().waiting(tenant, queue) === 1);
    await sleep(50);
    const sentAt = performance.now();
    await systemPool().query(
      `INSERT INTO queue_messages (id, tenant_id, queue, payload) VALUES (gen_random_uuid(), $1, $2, '{}')`,
      [tenant, queue],
    );
    await systemPool().query(`SELECT pg_notify('hms_queue', $1)`, [JSON.stringify({ tenant, queue })]);
    const { m, at } = await polling;
    expect(m).toHaveLength(1);
    expect(at - sentAt).toBeLessThan(300);
  });

  it("an in-process caller's abort signal ends its wait at once", async () => {
    const tenant = await createTenant("q");
    const queue = freshQueue();
    const ac = new AbortController();
    const t0 = performance.now();
    const p = leaseMessages(tenant, queue, { waitSeconds: 10 }, "test", ac.signal);
    await until(() => queueWakeups().waiting(tenant, queue) === 1);
    ac.abort();
    expect(await p).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(1_000);
    // And nothing was leased on its behalf.
    const id = await sendMessage(tenant, queue, { k: 1 });
    expect((await row(id))!.state).toBe("queued");
  });
});

describe("who may use which queue", () => {
  it("refuses a queue outside the token's list with 403 queue_forbidden, and allows the listed one", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant, { queues: ["claim-review"] });
    const r = await queuePost(server, token, `billing/messages`, { payload: { a: 1 } });
    expect(r.status).toBe(403);
    expect((await problem(r)).code).toBe("queue_forbidden");
    const l = await queuePost(server, token, `billing/lease`, {});
    expect(l.status).toBe(403);
    expect((await queuePost(server, token, `claim-review/messages`, { payload: { a: 1 } })).status).toBe(201);
  });

  it("a revoked token gets 401 token_revoked at once in the revoking process", async () => {
    const tenant = await createTenant("q");
    const issued = await createServiceToken(tenant);
    const queue = freshQueue();
    await send(issued.token, queue, { a: 1 }); // cached as valid now
    await withTenant(tenant, (c) =>
      revokeServiceToken(c, { tenantId: tenant, serviceName: issued.serviceName, tokenId: issued.id, actor: "t" }),
    );
    const r = await queuePost(server, issued.token, `${queue}/lease`, {});
    expect(r.status).toBe(401);
    expect((await problem(r)).code).toBe("token_revoked");
  });

  it("an unknown or malformed token is 401; without any token the data plane leaves the call to Next.js", async () => {
    const unknown = await queuePost(server, "hms_svc_" + "A".repeat(43), "x/lease", {});
    expect(unknown.status).toBe(401);
    const malformed = await queuePost(server, "hms_svc_short", "x/lease", {});
    expect(malformed.status).toBe(401);
    // Without an Authorization header the lean data plane steps aside (Next.js's route answers,
    // with its session-cookie support; queues.int.test.ts checks its 401).
    const none = await fetch(`${server.url}/api/v1/queues/x/lease`, { method: "POST", body: "{}" });
    expect(none.status).toBe(404);
    expect(await none.text()).toBe("not a queue data-plane path");
  });

  it("another tenant's token sees none of this tenant's messages and cannot ack or nack them (404)", async () => {
    const a = await createTenant("qa");
    const b = await createTenant("qb");
    const tokenA = (await createServiceToken(a)).token;
    const tokenB = (await createServiceToken(b)).token;
    const queue = freshQueue();
    const id = await send(tokenA, queue, { secret: "a" });
    expect(await lease(tokenB, queue, { max: 100 })).toEqual([]);
    const ack = await queuePost(server, tokenB, `${queue}/messages/${id}/ack`);
    expect(ack.status).toBe(404);
    expect((await problem(ack)).code).toBe("not_found");
    await lease(tokenA, queue);
    expect((await queuePost(server, tokenB, `${queue}/messages/${id}/ack`)).status).toBe(404);
    expect((await queuePost(server, tokenB, `${queue}/messages/${id}/nack`, {})).status).toBe(404);
    expect(await row(id)).toMatchObject({ state: "leased" });
    expect((await queuePost(server, tokenA, `${queue}/messages/${id}/ack`)).status).toBe(204);
  });

  it("operators and admins of the tenant may use the queues with their own token; veterans may not", async () => {
    const tenant = await createTenant("q");
    const operator = await createUser("operator", tenant);
    const veteran = await createUser("veteran", tenant);
    const queue = freshQueue();
    const id = await send(operator.token, queue, { by: "operator" });
    expect((await lease(operator.token, queue)).map((m) => m.id)).toEqual([id]);
    const v = await queuePost(server, veteran.token, `${queue}/lease`, {});
    expect(v.status).toBe(403);
    expect((await problem(v)).code).toBe("role_forbidden");
    const { rows } = await systemPool().query(`SELECT leased_by FROM queue_messages WHERE id = $1`, [id]);
    expect(rows[0]).toEqual({ leased_by: operator.username });
  });

  it("records a service token's lease holder as service:<name> and its last use", async () => {
    const tenant = await createTenant("q");
    const issued = await createServiceToken(tenant);
    const queue = freshQueue();
    const id = await send(issued.token, queue, {});
    await lease(issued.token, queue);
    const { rows } = await systemPool().query(`SELECT leased_by FROM queue_messages WHERE id = $1`, [id]);
    expect(rows[0]).toEqual({ leased_by: `service:${issued.serviceName}` });
    await until(async () => {
      const t = await systemPool().query(`SELECT last_used_at FROM service_tokens WHERE id = $1`, [issued.id]);
      return t.rows[0]?.last_used_at !== null;
    });
  });
});

describe("bad input", () => {
  it("refuses a payload over 256 KiB with 413 payload_too_large and stores nothing", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const r = await queuePost(server, token, `${queue}/messages`, { payload: { big: "x".repeat(256 * 1024) } });
    expect(r.status).toBe(413);
    expect((await problem(r)).code).toBe("payload_too_large");
    const huge = await queuePost(server, token, `${queue}/messages`, { payload: { big: "x".repeat(600 * 1024) } });
    expect(huge.status).toBe(413);
    const { rows } = await systemPool().query(`SELECT count(*)::int AS n FROM queue_messages WHERE tenant_id = $1`, [
      tenant,
    ]);
    expect(rows[0]).toEqual({ n: 0 });
    expect(
      (await queuePost(server, token, `${queue}/messages`, { payload: { ok: "x".repeat(200 * 1024) } })).status,
    ).toBe(201);
  });

  it("stores any JSON exactly: quotes, backslashes, SQL-looking text and unicode survive the round trip", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const payload = {
      s: "it's \\ \"q\" '); DROP TABLE queue_messages; -- $1 $$x$$ E'\\x'",
      u: "ünïcødé 😀 \n\t",
      n: 1.5,
      big: 12345678901234,
      nested: { a: [null, true, false, { "k'ey": "v\\" }] },
    };
    await send(token, queue, payload);
    const [m] = await lease(token, queue);
    expect(m!.payload).toEqual(payload);
    const nack = await queuePost(server, token, `${queue}/messages/${m!.id}/nack`, {
      error: "bad 'quote' \\ \u0000 end",
    });
    expect(nack.status).toBe(204);
    expect((await row(m!.id))!.last_error).toBe("bad 'quote' \\  end");
    const { rows } = await systemPool().query(`SELECT count(*)::int AS n FROM queue_messages`);
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it("refuses a payload PostgreSQL cannot store (a NUL character) with 422", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const r = await queuePost(server, token, `${freshQueue()}/messages`, { payload: { s: "a\u0000b" } });
    expect(r.status).toBe(422);
    expect((await problem(r)).code).toBe("validation_failed");
  });

  it("refuses bad queue names with 422 and bad bodies with 400 / 422", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    for (const name of ["Upper", "-dash", "a".repeat(64), "sp%20ace"]) {
      const r = await queuePost(server, token, `${name}/messages`, { payload: {} });
      expect(r.status, name).toBe(422);
      expect((await problem(r)).code).toBe("validation_failed");
    }
    const notObject = await queuePost(server, token, `ok/messages`, { payload: [1, 2] });
    expect(notObject.status).toBe(422);
    const missing = await queuePost(server, token, `ok/messages`, {});
    expect(missing.status).toBe(422);
    const broken = await fetch(`${server.url}/api/v1/queues/ok/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: "{not json",
    });
    expect(broken.status).toBe(400);
    for (const body of [{ max: 0 }, { max: 101 }, { visibilitySeconds: 0 }, { waitSeconds: 21 }, { extra: 1 }]) {
      const r = await queuePost(server, token, `ok/lease`, body);
      expect(r.status, JSON.stringify(body)).toBe(422);
    }
    const nack = await queuePost(server, token, `ok/messages/6f1c1c4e-0000-4000-8000-000000000000/nack`, {
      delaySeconds: 43_201,
    });
    expect(nack.status).toBe(422);
  });
});

describe("a consumer killed while holding leases", () => {
  it("SIGKILLed with leases (visibility 2 s): its messages are redelivered to another consumer after expiry", async () => {
    const tenant = await createTenant("q");
    const { token } = await createServiceToken(tenant);
    const queue = freshQueue();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await send(token, queue, { i }));
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(import.meta.dirname, "testing/lease-and-hold.ts"),
        server.url,
        token,
        queue,
        "3",
        "2",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((r) => child.once("exit", r));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`consumer exited ${code} before leasing`)));
    });
    const held = (JSON.parse(line) as { ids: string[] }).ids;
    expect(held.sort()).toEqual([...ids].sort());
    const killedAt = performance.now();
    child.kill("SIGKILL");
    await exited;
    expect(await lease(token, queue, { max: 10 })).toEqual([]); // leases still held
    const redelivered: Leased["messages"] = [];
    while (redelivered.length < 3 && performance.now() - killedAt < 6_000) {
      redelivered.push(...(await lease(token, queue, { max: 10, waitSeconds: 2 })));
    }
    expect(redelivered.map((m) => m.id).sort()).toEqual([...ids].sort());
    expect(redelivered.every((m) => m.attempts === 2)).toBe(true);
    for (const m of redelivered)
      expect((await queuePost(server, token, `${queue}/messages/${m.id}/ack`)).status).toBe(204);
  });
});
