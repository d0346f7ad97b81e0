import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { createHealthService, type TestService } from "@/lib/health/test-fixtures";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createTenant, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as getBoard } from "../board/route";
import { GET as getServiceCircuits } from "../services/[name]/circuits/route";
import { POST as postForce } from "./[instanceId]/force/route";
import { GET as getCircuits } from "./route";

interface View {
  instanceId: string;
  tenant: string;
  service: string;
  state: string;
  forced: string | null;
  forcedBy: string | null;
  reason: string | null;
}

const list = (user: TestUser | null, query = "") =>
  callRoute(getCircuits, { path: `/api/v1/circuits${query}`, token: user?.token });

const force = (user: TestUser | null, instanceId: string, body: unknown, raw?: string) =>
  callRoute(postForce, {
    method: "POST",
    path: `/api/v1/circuits/${instanceId}/force`,
    token: user?.token,
    headers: { "content-type": "application/json" },
    body: raw ?? JSON.stringify(body),
    params: { instanceId },
  });

async function auditRows(tenantId: string, instanceId: string) {
  const { rows } = await systemPool().query<{ actor: string; outcome: string; data: { action: string; to: string } }>(
    `SELECT actor, outcome, data FROM audit_events WHERE tenant_id = $1 AND action = 'circuit.force' AND target = $2 ORDER BY id`,
    [tenantId, `instance:${instanceId}`],
  );
  return rows;
}
async function eventRows(instanceId: string) {
  const { rows } = await systemPool().query<{ from_state: string; to_state: string; actor: string }>(
    `SELECT from_state, to_state, actor FROM circuit_events WHERE instance_id = $1 ORDER BY id`,
    [instanceId],
  );
  return rows;
}
async function circuitRowCount(instanceId: string): Promise<number> {
  const { rows } = await systemPool().query<{ n: number }>(
    `SELECT count(*)::int AS n FROM circuits WHERE instance_id = $1`,
    [instanceId],
  );
  return rows[0]!.n;
}

describe("GET /api/v1/circuits and POST /api/v1/circuits/<instanceId>/force", () => {
  let tenant: string;
  let other: string;
  let operator: TestUser;
  let veteran: TestUser;
  let otherOperator: TestUser;
  let globalAdmin: TestUser;
  let homeless: TestUser;
  let svc: TestService;
  let hidden: TestService;

  beforeAll(async () => {
    tenant = await createTenant("ca");
    other = await createTenant("cb");
    operator = await createUser("operator", tenant);
    veteran = await createUser("veteran", tenant);
    otherOperator = await createUser("operator", other);
    globalAdmin = await createUser("admin", null);
    homeless = await createUser("operator", null);
    svc = await createHealthService(systemPool(), tenant, { name: "payments" }, [
      { url: "http://127.0.0.1:9/pay/1", region: "primary", nextCheck: "never" },
      { url: "http://127.0.0.1:9/pay/2", region: "primary", nextCheck: "never" },
      { url: "http://127.0.0.1:9/pay/3", region: "secondary", nextCheck: "never" },
    ]);
    hidden = await createHealthService(systemPool(), other, { name: "hidden" }, [
      { url: "http://127.0.0.1:9/hidden/1", nextCheck: "never" },
    ]);
  });

  afterAll(async () => {
    await systemPool().query(`DELETE FROM circuit_events WHERE tenant_id = ANY($1)`, [[tenant, other]]);
    await systemPool().query(`DELETE FROM services WHERE tenant_id = ANY($1)`, [[tenant, other]]);
  });

  it("refuses veterans (403) and anonymous callers (401), for reads and for forces", async () => {
    expect(await problemOf(await list(veteran))).toMatchObject({ status: 403, code: "role_forbidden" });
    expect((await problemOf(await list(null))).status).toBe(401);
    const id = svc.instanceIds[0]!;
    expect(await problemOf(await force(veteran, id, { state: "open" }))).toMatchObject({
      status: 403,
      code: "role_forbidden",
    });
    expect((await problemOf(await force(null, id, { state: "open" }))).status).toBe(401);
    expect(await circuitRowCount(id)).toBe(0);
  });

  it("lists an operator's own tenant only, as {items, nextCursor}; naming another tenant is 404", async () => {
    const res = await list(operator);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: View[]; nextCursor: string | null; summary: { total: number } };
    expect(body.items.map((c) => c.instanceId).sort()).toEqual([...svc.instanceIds].sort());
    expect(body.items.every((c) => c.tenant === tenant && c.state === "closed")).toBe(true);
    expect(body.nextCursor).toBeNull();
    expect(body.summary.total).toBe(3);
    expect(await problemOf(await list(operator, `?tenant=${other}`))).toMatchObject({
      status: 404,
      code: "not_found",
    });
    expect(await problemOf(await list(homeless))).toMatchObject({ status: 403, code: "tenant_forbidden" });
  });

  it("lists every tenant for a global admin, or one with ?tenant=", async () => {
    const all = (await (await list(globalAdmin, "?limit=500")).json()) as { items: View[] };
    const tenants = new Set(all.items.map((c) => c.tenant));
    expect(tenants.has(tenant) && tenants.has(other)).toBe(true);
    const one = (await (await list(globalAdmin, `?tenant=${other}`)).json()) as { items: View[] };
    expect(one.items.map((c) => c.instanceId)).toEqual(hidden.instanceIds);
  });

  it("rejects a bad filter or cursor with a problem", async () => {
    expect(await problemOf(await list(operator, "?state=broken"))).toMatchObject({
      status: 422,
      code: "validation_failed",
    });
    expect(await problemOf(await list(operator, "?cursor=zzz"))).toMatchObject({
      status: 400,
      code: "invalid_request",
    });
  });

  it("answers 404 for another tenant's instance and for a malformed id, and changes nothing", async () => {
    const theirs = hidden.instanceIds[0]!;
    expect(await problemOf(await force(operator, theirs, { state: "open" }))).toMatchObject({
      status: 404,
      code: "not_found",
    });
    expect(await problemOf(await force(operator, "not-a-uuid", { state: "open" }))).toMatchObject({
      status: 404,
      code: "not_found",
    });
    // an operator without a tenant must not be taken for a global admin
    expect(await problemOf(await force(homeless, theirs, { state: "open" }))).toMatchObject({
      status: 404,
      code: "not_found",
    });
    expect(await circuitRowCount(theirs)).toBe(0);
    expect(await auditRows(other, theirs)).toEqual([]);
    expect(await eventRows(theirs)).toEqual([]);
  });

  it("rejects any state but open, closed or release with 422, and broken JSON with 400", async () => {
    const id = svc.instanceIds[0]!;
    for (const body of [{ state: "half_open" }, { state: "OPEN" }, {}, { state: "open", extra: 1 }, { state: 1 }]) {
      expect(await problemOf(await force(operator, id, body))).toMatchObject({
        status: 422,
        code: "validation_failed",
      });
    }
    expect(await problemOf(await force(operator, id, null, "{"))).toMatchObject({ status: 400, code: "invalid_json" });
    expect(await circuitRowCount(id)).toBe(0);
  });

  it("forces open, then closed, then releases: 200 with the breaker, one audit event and one circuit event each", async () => {
    const id = svc.instanceIds[0]!;

    const opened = await force(operator, id, { state: "open" });
    expect(opened.status).toBe(200);
    expect(await opened.json()).toMatchObject({
      instanceId: id,
      service: "payments",
      tenant,
      state: "open",
      forced: "open",
      forcedBy: operator.username,
      forcedAt: expect.any(String),
    });

    const closed = await force(operator, id, { state: "closed" });
    expect(closed.status).toBe(200);
    expect(await closed.json()).toMatchObject({ state: "closed", forced: "closed", forcedBy: operator.username });

    const released = await force(operator, id, { state: "release" });
    expect(released.status).toBe(200);
    expect(await released.json()).toMatchObject({ state: "closed", forced: null, forcedBy: null });

    const audits = await auditRows(tenant, id);
    expect(audits.map((a) => [a.actor, a.outcome, a.data.action])).toEqual([
      [operator.username, "success", "open"],
      [operator.username, "success", "closed"],
      [operator.username, "success", "release"],
    ]);
    expect((await eventRows(id)).map((e) => [e.to_state, e.actor])).toEqual([
      ["open", operator.username],
      ["closed", operator.username],
      ["closed", operator.username],
    ]);
  });

  it("releasing a forced-open breaker leaves it half-open: trial calls decide", async () => {
    const id = svc.instanceIds[1]!;
    expect((await force(operator, id, { state: "open" })).status).toBe(200);
    const res = await force(operator, id, { state: "release" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: "half_open", forced: null });
  });

  it("lets a global admin force any tenant's breaker", async () => {
    const id = hidden.instanceIds[0]!;
    const res = await force(globalAdmin, id, { state: "open" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ tenant: other, state: "open", forced: "open" });
    expect((await force(globalAdmin, id, { state: "release" })).status).toBe(200);
    expect((await auditRows(other, id)).length).toBe(2);
    // and the other tenant's operator sees it, while ours still cannot touch it
    const theirs = (await (await list(otherOperator)).json()) as { items: View[] };
    expect(theirs.items.map((c) => c.instanceId)).toEqual([id]);
  });

  it("shows forced and open breakers on the board tile and the service page", async () => {
    const id = svc.instanceIds[2]!;
    expect((await force(operator, id, { state: "open" })).status).toBe(200);
    try {
      const board = await (await callRoute(getBoard, { path: "/api/v1/board", token: operator.token })).json();
      const tile = board.items.find((i: { name: string }) => i.name === "payments");
      expect(tile.circuits).toMatchObject({ open: 1, forced: 1 });
      expect(tile).toHaveProperty("failover");
      expect(tile).toHaveProperty("activeRegion");

      const page = await callRoute(getServiceCircuits, {
        path: "/api/v1/services/payments/circuits",
        token: operator.token,
        params: { name: "payments" },
      });
      expect(page.status).toBe(200);
      const body = (await page.json()) as { items: View[]; circuits: { open: number; forced: number } };
      expect(body.items[0]).toMatchObject({ instanceId: id, state: "open", forced: "open" });
      expect(body.circuits).toMatchObject({ open: 1, forced: 1 });

      const notYours = await callRoute(getServiceCircuits, {
        path: "/api/v1/services/payments/circuits",
        token: otherOperator.token,
        params: { name: "payments" },
      });
      expect((await problemOf(notYours)).status).toBe(404);
    } finally {
      await force(operator, id, { state: "release" });
    }
  });
});
