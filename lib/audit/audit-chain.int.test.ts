import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, pool, systemPool } from "../db/pool";
import { withAllTenants, withTenant } from "../db/tenant-scope";
import { createTenant } from "../testing/fixtures";
import { appendAudit, type AuditInput } from "./append";
import { GENESIS_HASH, canonicalColumns, canonicalEvent, chainHash } from "./canonical";
import { copyOutRows } from "./copy-out";
import { keyRing, keyRingFrom, type AuditKeyRing } from "./keys";
import { auditSealLoop, sealAuditChains, type SealMode } from "./sealer";
import { verifyAuditChain } from "./verifier";

/**
 * The hash chain end to end on real PostgreSQL: sealing, verification, tampering as the owner
 * role (who can bypass the app's grants but not the HMAC key), the app role's missing rights,
 * concurrent sealers, late commits, key rotation and tenant isolation.
 */
let owner: pg.Client;

beforeAll(async () => {
  owner = new pg.Client({ connectionString: process.env.DATABASE_OWNER_URL });
  await owner.connect();
  // Row-level security is FORCED for the owner too: tamper across every tenant, explicitly.
  await owner.query(`SET app.tenant_id = '*'`);
});

afterAll(async () => {
  await owner.end();
});

const event = (tenantId: string | null, i: number, extra: Partial<AuditInput> = {}): AuditInput => ({
  tenantId,
  actor: `operator-${i % 3}`,
  action: i % 2 ? "registry.service_update" : "claim.intake",
  target: `CLM-${i}`,
  outcome: "success",
  traceId: randomBytes(16).toString("hex"),
  ip: `10.0.0.${i % 250}`,
  data: { n: i, nested: { b: 2, a: 1 } },
  ...extra,
});

async function appendMany(tenantId: string | null, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await appendAudit(event(tenantId, i));
}

const seal = (chain: string, mode: SealMode = "sweep", keys: AuditKeyRing = keyRing()) =>
  sealAuditChains(systemPool(), { chains: [chain], mode, keys });

const verify = (tenant: string, opts: Parameters<typeof verifyAuditChain>[2] = {}) =>
  withTenant(tenant, (c) => verifyAuditChain(c, tenant, opts));

async function seals(chain: string) {
  const { rows } = await systemPool().query<{ seq: string; event_id: string; prev_hash: string; hash: string }>(
    `SELECT seq, event_id, prev_hash, hash FROM audit_seals WHERE chain = $1 ORDER BY seq`,
    [chain],
  );
  return rows;
}

async function eventAt(chain: string, seq: number): Promise<string> {
  const { rows } = await systemPool().query<{ event_id: string }>(
    `SELECT event_id FROM audit_seals WHERE chain = $1 AND seq = $2`,
    [chain, seq],
  );
  return rows[0]!.event_id;
}

describe("canonical encoding", () => {
  it("is byte-for-byte what COPY prints for the event, tabs, newlines, backslashes, unicode and NULLs included", async () => {
    const tenant = await createTenant("canon");
    await appendAudit({
      tenantId: tenant,
      actor: "a\tb\\c\nd\re\u000bf\bg\fh",
      action: "x|y,z\"'",
      target: null,
      outcome: "success",
      traceId: null,
      ip: "::1",
      data: { z: "é 😀 \u0001", a: [1, "\\N", null], m: { y: 1, x: "\t" } },
    });
    const { rows } = await systemPool().query(
      `SELECT id::text, tenant_id, actor, action, target, outcome, trace_id, ip,
              ((date_part('epoch', at) * 1000)::bigint)::text AS at_ms, data::text AS data
         FROM audit_events WHERE tenant_id = $1`,
      [tenant],
    );
    const r = rows[0]!;
    const lines: string[] = [];
    await withTenant(tenant, (c) =>
      copyOutRows(
        c,
        `SELECT ${canonicalColumns("e")} FROM audit_events e`,
        (row, end) => void lines.push(row.toString("utf8", 0, end)),
      ),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      canonicalEvent({
        id: r.id,
        tenantId: r.tenant_id,
        actor: r.actor,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        traceId: r.trace_id,
        ip: r.ip,
        atMs: r.at_ms,
        data: r.data,
      }),
    );
    expect(lines[0]).toContain("a\\tb\\\\c\\nd\\re\\vf\\bg\\fh");
  });
});

describe("sealing and verifying", () => {
  it("seals every event of a tenant in order and verifies the chain", async () => {
    const tenant = await createTenant("chain");
    await appendMany(tenant, 25);
    const r = await seal(tenant);
    expect(r.sealed).toBe(25);
    const rows = await seals(tenant);
    expect(rows.map((s) => Number(s.seq))).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(rows[0]!.prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);

    const v = await verify(tenant);
    expect(v).toMatchObject({ ok: true, checked: 25, brokenAt: null, unsealed: 0, headSeq: "25" });
    expect(v.headHash).toBe(rows.at(-1)!.hash);
    // Sealing again finds nothing new.
    expect((await seal(tenant)).sealed).toBe(0);
  });

  it("computes each hash as HMAC-SHA256(key, prevHash || canonical) over the event as stored", async () => {
    const tenant = await createTenant("hmac");
    await appendMany(tenant, 2);
    await seal(tenant);
    const [s1, s2] = await seals(tenant);
    const canon: string[] = [];
    await withTenant(tenant, (c) =>
      copyOutRows(
        c,
        `SELECT ${canonicalColumns("e")} FROM audit_events e ORDER BY id`,
        (row, end) => void canon.push(row.toString("utf8", 0, end)),
      ),
    );
    const key = keyRing().current.secret;
    expect(s1!.hash).toBe(chainHash(key, GENESIS_HASH, canon[0]!));
    expect(s2!.hash).toBe(chainHash(key, s1!.hash, canon[1]!));
  });

  it("reports events not sealed yet as unsealed, without calling the chain broken", async () => {
    const tenant = await createTenant("unsealed");
    await appendMany(tenant, 3);
    await seal(tenant);
    await appendMany(tenant, 2);
    const v = await verify(tenant);
    expect(v).toMatchObject({ ok: true, checked: 3, unsealed: 2 });
  });

  it("keeps the global chain (events without a tenant) apart from tenants' chains", async () => {
    await appendAudit(event(null, 1, { actor: `nobody-${randomBytes(3).toString("hex")}`, action: "auth.login" }));
    await seal("");
    const g = await withAllTenants((c) => verifyAuditChain(c, ""));
    expect(g.ok).toBe(true);
    expect(g.checked).toBeGreaterThan(0);
    expect(g.unsealed).toBe(0);
    // The global chain's seals carry no tenant: a tenant's scope sees none of them.
    const t = await createTenant("global");
    expect((await withTenant(t, (c) => verifyAuditChain(c, ""))).checked).toBe(0);
  });
});

describe("tampering as the owner role is found at the row", () => {
  async function freshChain(n = 10): Promise<string> {
    const t = await createTenant("tamper");
    await appendMany(t, n);
    await seal(t);
    expect((await verify(t)).ok).toBe(true);
    return t;
  }

  it("an event's target changed: event_changed at exactly that seq and event", async () => {
    const t = await freshChain();
    const id = await eventAt(t, 6);
    await owner.query(`UPDATE audit_events SET target = 'CLM-forged' WHERE id = $1`, [id]);
    const v = await verify(t);
    expect(v.ok).toBe(false);
    expect(v.brokenAt).toMatchObject({ seq: "6", eventId: id, reason: "event_changed" });
    expect(v.brokenAt!.at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(v.checked).toBe(6);
  });

  it("an event's data or time changed: event_changed", async () => {
    const t = await freshChain();
    await owner.query(`UPDATE audit_events SET data = '{"n": 999}' WHERE id = $1`, [await eventAt(t, 2)]);
    expect((await verify(t)).brokenAt).toMatchObject({ seq: "2", reason: "event_changed" });
    const t2 = await freshChain();
    await owner.query(`UPDATE audit_events SET at = at - interval '1 millisecond' WHERE id = $1`, [
      await eventAt(t2, 9),
    ]);
    expect((await verify(t2)).brokenAt).toMatchObject({ seq: "9", reason: "event_changed" });
  });

  it("an event deleted: event_missing at its seq", async () => {
    const t = await freshChain();
    const id = await eventAt(t, 4);
    await owner.query(`DELETE FROM audit_events WHERE id = $1`, [id]);
    const v = await verify(t);
    expect(v.brokenAt).toMatchObject({ seq: "4", eventId: id, reason: "event_missing", at: null });
  });

  it("a seal deleted: seq_gap at the missing seq", async () => {
    const t = await freshChain();
    await owner.query(`DELETE FROM audit_seals WHERE chain = $1 AND seq = 7`, [t]);
    const v = await verify(t);
    expect(v.brokenAt).toMatchObject({ seq: "7", eventId: null, reason: "seq_gap" });
    expect(v.unsealed).toBe(1);
  });

  it("seals renumbered to close the gap: prev_hash_mismatch where the link breaks", async () => {
    const t = await freshChain();
    await owner.query(`DELETE FROM audit_seals WHERE chain = $1 AND seq = 3`, [t]);
    await owner.query(`UPDATE audit_seals SET seq = -seq WHERE chain = $1 AND seq > 3`, [t]);
    await owner.query(`UPDATE audit_seals SET seq = -seq - 1 WHERE chain = $1 AND seq < 0`, [t]);
    const v = await verify(t);
    expect(v.brokenAt).toMatchObject({ seq: "3", reason: "prev_hash_mismatch", eventId: await eventAt(t, 3) });
  });

  it("an event and its seal re-hashed by someone without the key: event_changed", async () => {
    const t = await freshChain(5);
    const id = await eventAt(t, 5);
    await owner.query(`UPDATE audit_events SET outcome = 'failure' WHERE id = $1`, [id]);
    // A forger recomputes the last hash with a key of their own.
    const forged = chainHash(Buffer.from("not-the-key-not-the-key-not-the-key"), (await seals(t))[3]!.hash, "x");
    await owner.query(`UPDATE audit_seals SET hash = $2 WHERE chain = $1 AND seq = 5`, [t, forged]);
    expect((await verify(t)).brokenAt).toMatchObject({ seq: "5", reason: "event_changed" });
  });

  it("a seal with a malformed key id or prev_hash: unknown_key / prev_hash_mismatch at that seq", async () => {
    const t = await freshChain(6);
    await owner.query(`UPDATE audit_seals SET key_id = 'x' WHERE chain = $1 AND seq = 3`, [t]);
    expect((await verify(t)).brokenAt).toMatchObject({ seq: "3", reason: "unknown_key" });
    const t2 = await freshChain(6);
    await owner.query(`UPDATE audit_seals SET prev_hash = 'abc' WHERE chain = $1 AND seq = 5`, [t2]);
    expect((await verify(t2, { threads: 1 })).brokenAt).toMatchObject({ seq: "5", reason: "prev_hash_mismatch" });
  });

  it("the same break is found when the HMACs run on worker threads", async () => {
    const t = await freshChain(30);
    await owner.query(`UPDATE audit_events SET actor = 'mallory' WHERE id = $1`, [await eventAt(t, 17)]);
    const v = await verify(t, { threads: 2, range: 7 });
    expect(v.brokenAt).toMatchObject({ seq: "17", reason: "event_changed", eventId: await eventAt(t, 17) });
    expect(v.checked).toBe(17);
    const ok = await freshChain(30);
    expect(await verify(ok, { threads: 2, range: 7 })).toMatchObject({ ok: true, checked: 30 });
  });

  it("finds a break in a later COPY range", async () => {
    const t = await freshChain(12);
    await owner.query(`UPDATE audit_events SET ip = '203.0.113.9' WHERE id = $1`, [await eventAt(t, 11)]);
    expect((await verify(t, { range: 4, threads: 0 })).brokenAt).toMatchObject({ seq: "11", reason: "event_changed" });
  });
});

describe("the app role", () => {
  it("cannot UPDATE or DELETE audit events or seals (permission denied), only insert events", async () => {
    const t = await createTenant("grants");
    await appendMany(t, 1);
    await seal(t);
    for (const sql of [
      `UPDATE audit_events SET target = 'x'`,
      `DELETE FROM audit_events`,
      `TRUNCATE audit_events`,
      `UPDATE audit_seals SET hash = 'x'`,
      `DELETE FROM audit_seals`,
      `TRUNCATE audit_seals`,
    ]) {
      await expect(systemPool().query(sql), sql).rejects.toThrow(/permission denied/);
    }
    expect((await verify(t)).ok).toBe(true);
  });
});

describe("concurrent sealers", () => {
  it("never fork a chain: every event sealed once, seq 1…n without gaps", async () => {
    const t = await createTenant("race");
    await appendMany(t, 300);
    const pools = [0, 1, 2, 3].map(() => createPool(process.env.DATABASE_URL!, 2, { allTenants: true }));
    try {
      const results = await Promise.all(
        pools.map((p) => sealAuditChains(p, { chains: [t], mode: "sweep", batchSize: 7, keys: keyRing() })),
      );
      // Whoever found the chain busy stopped; the rest is sealed by the next rounds.
      for (let round = 0; round < 5; round++) {
        await Promise.all(pools.map((p) => sealAuditChains(p, { chains: [t], mode: "sweep", batchSize: 7 })));
      }
      expect(results.reduce((n, r) => n + r.sealed, 0)).toBeGreaterThan(0);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    const rows = await seals(t);
    expect(rows).toHaveLength(300);
    expect(rows.map((s) => Number(s.seq))).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(new Set(rows.map((s) => s.event_id)).size).toBe(300);
    expect(await verify(t)).toMatchObject({ ok: true, checked: 300, unsealed: 0 });
  });
});

describe("late commits", () => {
  it("an event whose transaction commits after a newer one was sealed is sealed by the next window round", async () => {
    const t = await createTenant("late");
    await appendMany(t, 2);
    await seal(t, "tail");
    const slow = await pool().connect();
    try {
      // Takes the lower id (and the earlier `at`), but commits last.
      await slow.query(`BEGIN; SELECT set_config('app.tenant_id', $1, true)`.replace("$1", pg.escapeLiteral(t)));
      await appendAudit(event(t, 100, { target: "late" }), slow);
      await appendAudit(event(t, 101, { target: "early" }));
      expect((await seal(t, "tail")).sealed).toBe(1);
      await slow.query("COMMIT");
    } finally {
      slow.release();
    }
    // The tail round looks only from the head on, so it does not see the late event ...
    expect((await seal(t, "tail")).sealed).toBe(0);
    expect((await verify(t)).unsealed).toBe(1);
    // ... the window round (every 30 s in the worker) does.
    expect((await seal(t, "window")).sealed).toBe(1);
    const rows = await seals(t);
    const targets = await systemPool().query<{ id: string; target: string }>(
      `SELECT id, target FROM audit_events WHERE tenant_id = $1`,
      [t],
    );
    const byId = new Map(targets.rows.map((r) => [r.id, r.target]));
    expect(rows.map((s) => byId.get(s.event_id))).toEqual(["CLM-1", "CLM-2", "early", "late"]);
    expect(await verify(t)).toMatchObject({ ok: true, checked: 4, unsealed: 0 });
  });

  it("an old unsealed event is picked up by the sweep", async () => {
    const t = await createTenant("sweep");
    await appendMany(t, 2);
    await seal(t);
    await owner.query(
      `INSERT INTO audit_events (tenant_id, actor, action, outcome, at) VALUES ($1, 'import', 'legacy.event', 'success', now() - interval '2 days')`,
      [t],
    );
    expect((await seal(t, "window")).sealed).toBe(0);
    expect((await seal(t, "sweep")).sealed).toBe(1);
    expect(await verify(t)).toMatchObject({ ok: true, checked: 3 });
  });
});

describe("key rotation", () => {
  it("verifies seals made with a previous key listed in HMS_AUDIT_PREVIOUS_KEYS, and reports unknown_key without it", async () => {
    const oldKey = randomBytes(24).toString("hex");
    const newKey = randomBytes(24).toString("hex");
    const t = await createTenant("rotate");
    await appendMany(t, 3);
    await seal(t, "sweep", keyRingFrom(oldKey));
    await appendMany(t, 2);
    await seal(t, "sweep", keyRingFrom(newKey, [oldKey]));
    const { rows } = await systemPool().query<{ key_id: string; n: number }>(
      `SELECT key_id, count(*)::int AS n FROM audit_seals WHERE chain = $1 GROUP BY key_id ORDER BY n DESC`,
      [t],
    );
    expect(rows.map((r) => r.n)).toEqual([3, 2]);
    expect(await verify(t, { keys: keyRingFrom(newKey, [oldKey]) })).toMatchObject({ ok: true, checked: 5 });
    const v = await verify(t, { keys: keyRingFrom(newKey) });
    expect(v.brokenAt).toMatchObject({ seq: "1", reason: "unknown_key" });
  });
});

describe("tenant isolation", () => {
  it("a tenant's verification never reads another tenant's chain, even when asked for it", async () => {
    const a = await createTenant("iso-a");
    const b = await createTenant("iso-b");
    await appendMany(b, 4);
    await seal(b);
    const v = await withTenant(a, (c) => verifyAuditChain(c, b));
    expect(v).toMatchObject({ ok: true, checked: 0, headSeq: null, unsealed: 0 });
    // And a tampered chain of B stays invisible to A's scope as well.
    await owner.query(`UPDATE audit_events SET target = 'x' WHERE tenant_id = $1`, [b]);
    expect((await withTenant(a, (c) => verifyAuditChain(c, b))).ok).toBe(true);
    expect((await verify(b)).ok).toBe(false);
  });
});

describe("sealing in bounded rounds", () => {
  it("stops at its time limit, says so, and the next rounds finish the backlog", async () => {
    const t = await createTenant("bounded");
    await appendMany(t, 40);
    const first = await sealAuditChains(systemPool(), { chains: [t], mode: "sweep", batchSize: 5, maxMs: 0 });
    expect(first).toMatchObject({ sealed: 0, complete: false });
    let rounds = 0;
    for (let done = false; !done && rounds < 20; rounds++) {
      const r = await sealAuditChains(systemPool(), { chains: [t], mode: "sweep", batchSize: 5 });
      done = r.complete;
    }
    expect(await verify(t)).toMatchObject({ ok: true, checked: 40, unsealed: 0 });
  });
});

describe("auditSealLoop", () => {
  it("is the worker loop 'audit-seal', every second, and seals on its first round", async () => {
    const t = await createTenant("loop");
    await appendMany(t, 3);
    const loop = auditSealLoop();
    expect(loop).toMatchObject({ name: "audit-seal", everyMs: 1000 });
    await loop.handler(new AbortController().signal);
    expect(await verify(t)).toMatchObject({ ok: true, checked: 3 });
  });
});
