import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAudit } from "@/lib/audit/append";
import { CSV_PAGE } from "@/lib/audit/audit-queries";
import { sealAuditChains } from "@/lib/audit/sealer";
import { systemPool } from "@/lib/db/pool";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createTenant, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as getCsv } from "./events.csv/route";
import { GET as getEvents } from "./events/route";
import { GET as getVerify } from "./verify/route";

interface EventView {
  id: string;
  at: string;
  tenant: string | null;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  seq: string | null;
}

let owner: pg.Client;
let tenantA: string;
let tenantB: string;
let operatorA: TestUser;
let operatorB: TestUser;
let veteranA: TestUser;
let globalAdmin: TestUser;

const get = (handler: typeof getEvents, path: string, user: TestUser | null) =>
  callRoute(handler, { path, token: user?.token });
const events = async (user: TestUser, qs = "") => {
  const res = await get(getEvents, `/api/v1/audit/events${qs}`, user);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { items: EventView[]; nextCursor: string | null };
};

async function seed(tenant: string, prefix: string) {
  const base = Date.parse("2026-11-20T10:00:00Z");
  for (let i = 0; i < 6; i++) {
    await appendAudit({
      tenantId: tenant,
      actor: i % 2 ? `${prefix}-alice` : `${prefix}-bob`,
      action: i < 3 ? "registry.service_update" : "circuit.force",
      target: `${prefix}-target-${i}`,
      outcome: "success",
      traceId: `${i}`.padStart(32, "0"),
      ip: "10.1.2.3",
      data: { i },
    });
  }
  // Spread them over known times (as the owner: the app role may not UPDATE audit_events).
  await owner.query(
    `UPDATE audit_events e SET at = to_timestamp($2::double precision / 1000) + (x.rn * interval '1 hour')
       FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn FROM audit_events WHERE tenant_id = $1) x
      WHERE e.id = x.id`,
    [tenant, base],
  );
  await sealAuditChains(systemPool(), { chains: [tenant], mode: "sweep" });
}

beforeAll(async () => {
  owner = new pg.Client({ connectionString: process.env.DATABASE_OWNER_URL });
  await owner.connect();
  await owner.query(`SET app.tenant_id = '*'`);
  tenantA = await createTenant("aud-a");
  tenantB = await createTenant("aud-b");
  [operatorA, operatorB, veteranA, globalAdmin] = await Promise.all([
    createUser("operator", tenantA),
    createUser("operator", tenantB),
    createUser("veteran", tenantA),
    createUser("admin", null),
  ]);
  await seed(tenantA, "a");
  await seed(tenantB, "b");
});

afterAll(async () => {
  await owner.end();
});

describe("GET /api/v1/audit/verify", () => {
  it("verifies the operator's own tenant chain in the contract's shape", async () => {
    const res = await get(getVerify, "/api/v1/audit/verify", operatorA);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ ok: true, checked: 6, brokenAt: null, tenant: tenantA, unsealed: 0, headSeq: "6" });
  });

  it("is refused to veterans (403) and to callers without a token (401)", async () => {
    const vet = await get(getVerify, "/api/v1/audit/verify", veteranA);
    expect(vet.status).toBe(403);
    expect((await problemOf(vet)).code).toBe("role_forbidden");
    expect((await get(getVerify, "/api/v1/audit/verify", null)).status).toBe(401);
  });

  it("never verifies another tenant's chain for an operator, even when asked (404, as for anything of theirs)", async () => {
    const res = await get(getVerify, `/api/v1/audit/verify?tenant=${tenantB}`, operatorA);
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe("not_found");
  });

  it("lets a global admin verify a named tenant, or the global chain", async () => {
    const named = await (await get(getVerify, `/api/v1/audit/verify?tenant=${tenantB}`, globalAdmin)).json();
    expect(named).toMatchObject({ ok: true, tenant: tenantB });
    expect(named.checked).toBeGreaterThanOrEqual(6);
    const global = await get(getVerify, "/api/v1/audit/verify", globalAdmin);
    expect(global.status).toBe(200);
    expect(await global.json()).toMatchObject({ ok: true, tenant: null });
  });

  it("reports where a tampered chain breaks", async () => {
    const t = await createTenant("aud-t");
    const op = await createUser("operator", t);
    await seed(t, "t");
    const { rows } = await owner.query(`SELECT event_id FROM audit_seals WHERE chain = $1 AND seq = 4`, [t]);
    await owner.query(`UPDATE audit_events SET outcome = 'failure' WHERE id = $1`, [rows[0].event_id]);
    const body = await (await get(getVerify, "/api/v1/audit/verify", op)).json();
    expect(body).toMatchObject({
      ok: false,
      checked: 4,
      brokenAt: { seq: "4", eventId: rows[0].event_id, reason: "event_changed" },
    });
  });
});

describe("GET /api/v1/audit/events", () => {
  it("lists the operator's tenant's events newest first, with their chain position", async () => {
    const body = await events(operatorA);
    expect(body.items).toHaveLength(6);
    expect(body.items.every((e) => e.tenant === tenantA)).toBe(true);
    expect(body.items.map((e) => e.target)).toEqual([5, 4, 3, 2, 1, 0].map((i) => `a-target-${i}`));
    expect(body.items.map((e) => e.seq)).toEqual(["6", "5", "4", "3", "2", "1"]);
    expect(body.nextCursor).toBeNull();
  });

  it("never shows another tenant's events, whatever the filters", async () => {
    expect((await events(operatorA, "?target=b-target-1")).items).toEqual([]);
    expect((await events(operatorA, "?actor=b-*")).items).toEqual([]);
    const b = await events(operatorB);
    expect(b.items.length).toBeGreaterThanOrEqual(6);
    expect(b.items.every((e) => e.tenant === tenantB)).toBe(true);
    const asked = await get(getEvents, `/api/v1/audit/events?tenant=${tenantB}`, operatorA);
    expect(asked.status).toBe(404);
  });

  it("filters by actor, action and target, exactly or by prefix, and by time", async () => {
    expect((await events(operatorA, "?actor=a-alice")).items.map((e) => e.target)).toEqual([
      "a-target-5",
      "a-target-3",
      "a-target-1",
    ]);
    expect((await events(operatorA, "?action=circuit.*")).items).toHaveLength(3);
    expect((await events(operatorA, "?action=circuit")).items).toHaveLength(0);
    expect((await events(operatorA, "?target=a-target-2")).items.map((e) => e.target)).toEqual(["a-target-2"]);
    expect((await events(operatorA, "?target=a-tar*")).items).toHaveLength(6);
    // A prefix is literal: % and _ match themselves only.
    expect((await events(operatorA, "?target=a_tar*")).items).toHaveLength(0);
    const window = await events(operatorA, "?from=2026-11-20T11:00:00Z&to=2026-11-20T13:00:00Z");
    expect(window.items.map((e) => e.target)).toEqual(["a-target-2", "a-target-1"]);
  });

  it("pages with nextCursor without repeating or skipping an event", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: EventView[]; nextCursor: string | null } = await events(
        operatorA,
        `?limit=4${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
  });

  it("starts at a given event (the broken row), and answers 404 for another tenant's event", async () => {
    const all = await events(operatorA);
    const third = all.items[2]!;
    const from = await events(operatorA, `?event=${third.id}`);
    expect(from.items.map((e) => e.id)).toEqual(all.items.slice(2).map((e) => e.id));
    const bEvent = (await events(operatorB)).items[0]!;
    const res = await get(getEvents, `/api/v1/audit/events?event=${bEvent.id}`, operatorA);
    expect(res.status).toBe(404);
  });

  it("refuses veterans, bad cursors and bad times", async () => {
    expect((await get(getEvents, "/api/v1/audit/events", veteranA)).status).toBe(403);
    expect((await problemOf(await get(getEvents, "/api/v1/audit/events?cursor=nope", operatorA))).code).toBe(
      "invalid_request",
    );
    const bad = await get(getEvents, "/api/v1/audit/events?from=yesterday", operatorA);
    expect(bad.status).toBe(422);
  });
});

describe("GET /api/v1/audit/events.csv", () => {
  it("downloads the filtered events as CSV, defusing formula cells", async () => {
    await appendAudit({ tenantId: tenantA, actor: "=cmd|'/c calc'!A1", action: "auth.login", outcome: "failure" });
    const res = await get(getCsv, "/api/v1/audit/events.csv?action=auth.login", operatorA);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(
      new RegExp(`^attachment; filename="audit-${tenantA}-\\d{4}-\\d\\d-\\d\\d\\.csv"$`),
    );
    const text = await res.text();
    const lines = text.trimEnd().split("\r\n");
    expect(lines[0]).toBe("id,at,tenant,actor,action,target,outcome,trace_id,ip,seq,data");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`,'=cmd|'/c calc'!A1,auth.login,`);
  });

  it("contains only the caller's tenant and every page of it", async () => {
    const t = await createTenant("aud-csv");
    const op = await createUser("operator", t);
    await owner.query(
      `INSERT INTO audit_events (tenant_id, actor, action, target, outcome, data)
       SELECT $1, 'bulk', 'claim.intake', 'CLM-' || g, 'success', jsonb_build_object('g', g, 'note', 'a,"b"')
         FROM generate_series(1, $2::int) g`,
      [t, CSV_PAGE + 5],
    );
    const text = await (await get(getCsv, "/api/v1/audit/events.csv", op)).text();
    const lines = text.trimEnd().split("\r\n");
    expect(lines).toHaveLength(CSV_PAGE + 6);
    expect(lines.slice(1).every((l) => l.split(",")[2] === t)).toBe(true);
    expect(lines[1]).toMatch(/,"\{""g"":\d+,""note"":""a,\\""b\\""""\}"$/);
    expect(text).not.toContain(tenantA);
  });

  it("is refused to veterans and for another tenant", async () => {
    expect((await get(getCsv, "/api/v1/audit/events.csv", veteranA)).status).toBe(403);
    expect((await get(getCsv, `/api/v1/audit/events.csv?tenant=${tenantB}`, operatorA)).status).toBe(404);
  });
});
