import { afterAll, describe, expect, it } from "vitest";
import { hashServiceToken, verifyServiceToken, clearServiceTokenCache } from "@/lib/auth/service-tokens";
import { systemPool } from "@/lib/db/pool";
import { stopQueueWakeups } from "@/lib/queue/queue-wakeups";
import { createService } from "@/lib/queue/testing/queue-fixtures";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createTenant, createUser } from "@/lib/testing/fixtures";
import { DELETE as revokeRoute } from "./[id]/route";
import { GET as listRoute, POST as issueRoute } from "./route";

/** Service tokens: issue (secret once, hash stored, audited), list (no secrets), revoke (audited). */
afterAll(async () => {
  await stopQueueWakeups();
});

interface Issued {
  token: string;
  id: string;
  prefix: string;
  queues: string[];
}

function issue(adminToken: string, name: string, body: unknown, query = "") {
  return callRoute(issueRoute, {
    method: "POST",
    path: `/api/v1/services/${name}/tokens${query}`,
    token: adminToken,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    params: { name },
  });
}

describe("issuing a service token", () => {
  it("answers 201 with the secret once, stores only its hash, and audits service_token.issued", async () => {
    const tenant = await createTenant("tk");
    const admin = await createUser("admin", tenant);
    const name = await createService(tenant);
    const r = await issue(admin.token, name, { queues: ["claim-review", "claim-review", "audit.export"] });
    expect(r.status).toBe(201);
    const body = (await r.json()) as Issued;
    expect(body.token).toMatch(/^hms_svc_[A-Za-z0-9_-]{43}$/);
    expect(body.prefix).toBe(body.token.slice(0, 14));
    expect(body.queues).toEqual(["audit.export", "claim-review"]);
    const { rows } = await systemPool().query(
      `SELECT token_hash, tenant_id, created_by FROM service_tokens WHERE id = $1`,
      [body.id],
    );
    expect(rows).toEqual([{ token_hash: hashServiceToken(body.token), tenant_id: tenant, created_by: admin.username }]);
    const audit = await systemPool().query(
      `SELECT tenant_id, actor, data FROM audit_events WHERE action = 'service_token.issued' AND target = $1`,
      [`${name}/${body.id}`],
    );
    expect(audit.rows).toEqual([
      {
        tenant_id: tenant,
        actor: admin.username,
        data: { service: name, prefix: body.prefix, queues: ["audit.export", "claim-review"] },
      },
    ]);
    expect(JSON.stringify(audit.rows)).not.toContain(body.token);
    const p = await verifyServiceToken(body.token);
    expect(p).toMatchObject({
      kind: "service",
      tenantId: tenant,
      serviceName: name,
      queues: ["audit.export", "claim-review"],
    });
  });

  it("another tenant's service is 404; operators are 403; bad queue names 422", async () => {
    const a = await createTenant("tk");
    const b = await createTenant("tk");
    const nameA = await createService(a);
    const adminB = await createUser("admin", b);
    const r = await issue(adminB.token, nameA, {});
    expect(r.status).toBe(404);
    expect((await problemOf(r)).code).toBe("not_found");
    const { rows } = await systemPool().query(`SELECT count(*)::int AS n FROM service_tokens WHERE tenant_id = $1`, [
      a,
    ]);
    expect(rows[0]).toEqual({ n: 0 });
    const operator = await createUser("operator", a);
    expect((await issue(operator.token, nameA, {})).status).toBe(403);
    const adminA = await createUser("admin", a);
    expect((await issue(adminA.token, nameA, { queues: ["Bad Name"] })).status).toBe(422);
    // Naming another tenant answers like any other tenant's object.
    expect((await issue(adminA.token, nameA, {}, `?tenant=${b}`)).status).toBe(404);
  });

  it("a global admin names the tenant (body or ?tenant=), and must name one", async () => {
    const tenant = await createTenant("tk");
    const name = await createService(tenant);
    const global = await createUser("admin", null);
    expect((await issue(global.token, name, {})).status).toBe(422);
    const viaBody = await issue(global.token, name, { tenant });
    expect(viaBody.status).toBe(201);
    const viaQuery = await issue(global.token, name, {}, `?tenant=${tenant}`);
    expect(viaQuery.status).toBe(201);
    expect(((await viaQuery.json()) as Issued).queues).toEqual([]);
  });
});

describe("listing and revoking", () => {
  it("lists tokens without secrets, revokes one (204, audited) and the token stops working", async () => {
    const tenant = await createTenant("tk");
    const admin = await createUser("admin", tenant);
    const name = await createService(tenant);
    const first = (await (await issue(admin.token, name, { queues: ["a"] })).json()) as Issued;
    const second = (await (await issue(admin.token, name, {})).json()) as Issued;
    await verifyServiceToken(first.token); // cached in this process now

    const list = await callRoute(listRoute, {
      path: `/api/v1/services/${name}/tokens`,
      token: admin.token,
      params: { name },
    });
    expect(list.status).toBe(200);
    const text = await list.text();
    expect(text).not.toContain(first.token);
    expect(text).not.toContain(second.token);
    const { items } = JSON.parse(text) as {
      items: { id: string; prefix: string; queues: string[]; revokedAt: string | null }[];
    };
    expect(items.map((i) => i.id).sort()).toEqual([first.id, second.id].sort());
    expect(items.find((i) => i.id === first.id)).toMatchObject({
      prefix: first.prefix,
      queues: ["a"],
      revokedAt: null,
    });

    const del = await callRoute(revokeRoute, {
      method: "DELETE",
      path: `/api/v1/services/${name}/tokens/${first.id}`,
      token: admin.token,
      params: { name, id: first.id },
    });
    expect(del.status).toBe(204);
    await expect(verifyServiceToken(first.token)).rejects.toMatchObject({ code: "token_revoked" });
    await expect(verifyServiceToken(second.token)).resolves.toMatchObject({ tokenId: second.id });
    const audit = await systemPool().query(
      `SELECT actor FROM audit_events WHERE action = 'service_token.revoked' AND target = $1`,
      [`${name}/${first.id}`],
    );
    expect(audit.rows).toEqual([{ actor: admin.username }]);

    // Revoking again changes nothing and is not audited twice.
    const again = await callRoute(revokeRoute, {
      method: "DELETE",
      path: `/api/v1/services/${name}/tokens/${first.id}`,
      token: admin.token,
      params: { name, id: first.id },
    });
    expect(again.status).toBe(204);
    const audit2 = await systemPool().query(
      `SELECT 1 FROM audit_events WHERE action = 'service_token.revoked' AND target = $1`,
      [`${name}/${first.id}`],
    );
    expect(audit2.rows).toHaveLength(1);
  });

  it("a revocation elsewhere (another process) takes effect within the 5 s cache", async () => {
    const tenant = await createTenant("tk");
    const admin = await createUser("admin", tenant);
    const name = await createService(tenant);
    const t = (await (await issue(admin.token, name, {})).json()) as Issued;
    await verifyServiceToken(t.token);
    // As another process would: straight in the database, this process's cache untouched.
    await systemPool().query(`UPDATE service_tokens SET revoked_at = now() WHERE id = $1`, [t.id]);
    await expect(verifyServiceToken(t.token)).resolves.toMatchObject({ tokenId: t.id }); // still cached
    clearServiceTokenCache(); // = the cache entry's 5 s running out
    await expect(verifyServiceToken(t.token)).rejects.toMatchObject({ code: "token_revoked" });
  });

  it("another tenant's admin cannot list or revoke this service's tokens (404)", async () => {
    const a = await createTenant("tk");
    const b = await createTenant("tk");
    const adminA = await createUser("admin", a);
    const adminB = await createUser("admin", b);
    const name = await createService(a);
    const t = (await (await issue(adminA.token, name, {})).json()) as Issued;
    const list = await callRoute(listRoute, {
      path: `/api/v1/services/${name}/tokens`,
      token: adminB.token,
      params: { name },
    });
    expect(list.status).toBe(404);
    const del = await callRoute(revokeRoute, {
      method: "DELETE",
      path: `/api/v1/services/${name}/tokens/${t.id}`,
      token: adminB.token,
      params: { name, id: t.id },
    });
    expect(del.status).toBe(404);
    // Same name in B, but the token is A's: still 404.
    await createService(b, name);
    const del2 = await callRoute(revokeRoute, {
      method: "DELETE",
      path: `/api/v1/services/${name}/tokens/${t.id}`,
      token: adminB.token,
      params: { name, id: t.id },
    });
    expect(del2.status).toBe(404);
    await expect(verifyServiceToken(t.token)).resolves.toMatchObject({ tokenId: t.id });
  });
});
