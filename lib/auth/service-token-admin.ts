import { randomUUID } from "node:crypto";
import { z } from "zod";
import { appendAudit } from "../audit/append";
import type { TenantClient } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { inCallerScope } from "../tenancy/tenant-access";
import type { Principal } from "./principal";
import { forgetServiceToken, hashServiceToken, newServiceTokenSecret, QUEUE_NAME } from "./service-tokens";

/**
 * Issuing, listing and revoking service tokens (issue 5). An admin issues a token for one
 * registered service of a tenant, optionally limited to some queues; the secret is returned once
 * and only its SHA-256 is kept. Issue and revoke are audited in the same transaction.
 *
 * The store functions take a client that is already in the tenant's scope (withTenant); the
 * `…FromRequest` functions resolve that scope for an HTTP caller (lib/tenancy/tenant-access).
 */

/** The first characters of a token, kept to tell tokens apart in lists (`hms_svc_` + 6). */
export const TOKEN_PREFIX_LENGTH = 14;
export const MAX_TOKEN_QUEUES = 50;

export const queueList = z
  .array(z.string().regex(QUEUE_NAME, "a queue name is 1–63 of a-z 0-9 . _ -, starting with a letter or digit"))
  .max(MAX_TOKEN_QUEUES)
  .transform((qs) => [...new Set(qs)].sort());

export const issueTokenBody = z.strictObject({
  /** limit the token to these queues; absent or empty = every queue of the tenant */
  queues: queueList.optional(),
  /** a global admin names the service's tenant (or passes `?tenant=`) */
  tenant: z.string().min(1).max(100).optional(),
});
export type IssueTokenBody = z.infer<typeof issueTokenBody>;

export interface IssuedServiceToken {
  /** the secret, shown once */
  token: string;
  id: string;
  prefix: string;
  queues: string[];
}

export interface ServiceTokenView {
  id: string;
  prefix: string;
  queues: string[];
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface IssueServiceTokenInput {
  tenantId: string;
  serviceName: string;
  /** empty = every queue of the tenant */
  queues: string[];
  /** actor name for the audit trail (a username) */
  createdBy: string;
  meta?: Partial<Pick<RequestMeta, "traceId" | "ip">> | undefined;
}

async function serviceIdOf(client: TenantClient, tenantId: string, serviceName: string): Promise<string> {
  const { rows } = await client.query<{ id: string }>(`SELECT id FROM services WHERE tenant_id = $1 AND name = $2`, [
    tenantId,
    serviceName,
  ]);
  const id = rows[0]?.id;
  // Another tenant's service reads exactly like a missing one.
  if (!id) throw new AppError("not_found", `No service named "${serviceName}".`);
  return id;
}

/**
 * Issues a token for `serviceName` of `tenantId`. `client` must be in that tenant's scope
 * (withTenant) — it is the transaction the token row and its audit event commit in.
 */
export async function issueServiceToken(
  client: TenantClient,
  input: IssueServiceTokenInput,
): Promise<IssuedServiceToken> {
  const queues = queueList.parse(input.queues);
  const serviceId = await serviceIdOf(client, input.tenantId, input.serviceName);
  const token = newServiceTokenSecret();
  const id = randomUUID();
  const prefix = token.slice(0, TOKEN_PREFIX_LENGTH);
  await client.query(
    `INSERT INTO service_tokens (id, tenant_id, service_id, queues, token_hash, prefix, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [id, input.tenantId, serviceId, queues, hashServiceToken(token), prefix, input.createdBy],
  );
  await appendAudit(
    {
      tenantId: input.tenantId,
      actor: input.createdBy,
      action: "service_token.issued",
      target: `${input.serviceName}/${id}`,
      outcome: "success",
      traceId: input.meta?.traceId ?? null,
      ip: input.meta?.ip ?? null,
      data: { service: input.serviceName, prefix, queues },
    },
    client,
  );
  return { token, id, prefix, queues };
}

interface TokenListRow {
  id: string;
  prefix: string;
  queues: string[] | null;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** Every token of the service, newest first, without secrets (revoked ones included, marked). */
export async function listServiceTokens(
  client: TenantClient,
  tenantId: string,
  serviceName: string,
): Promise<ServiceTokenView[]> {
  const serviceId = await serviceIdOf(client, tenantId, serviceName);
  const { rows } = await client.query<TokenListRow>(
    `SELECT id, prefix, queues, created_by, created_at, last_used_at, revoked_at
       FROM service_tokens WHERE tenant_id = $1 AND service_id = $2
      ORDER BY created_at DESC, id`,
    [tenantId, serviceId],
  );
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    queues: r.queues ?? [],
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: r.last_used_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
  }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Revokes one token of the service (idempotent: revoking a revoked token changes nothing and is
 * not audited again). Unknown id, or a token of another service or tenant → 404.
 */
export async function revokeServiceToken(
  client: TenantClient,
  input: {
    tenantId: string;
    serviceName: string;
    tokenId: string;
    actor: string;
    meta?: IssueServiceTokenInput["meta"];
  },
): Promise<void> {
  const serviceId = await serviceIdOf(client, input.tenantId, input.serviceName);
  if (!UUID.test(input.tokenId)) throw new AppError("not_found", `No token ${input.tokenId}.`);
  const { rows } = await client.query<{ id: string; prefix: string; was_revoked: boolean }>(
    `UPDATE service_tokens t SET revoked_at = COALESCE(t.revoked_at, now())
       FROM service_tokens old
      WHERE t.id = old.id AND t.id = $1 AND t.tenant_id = $2 AND t.service_id = $3
      RETURNING t.id, t.prefix, old.revoked_at IS NOT NULL AS was_revoked`,
    [input.tokenId.toLowerCase(), input.tenantId, serviceId],
  );
  const row = rows[0];
  if (!row) throw new AppError("not_found", `No token ${input.tokenId}.`);
  forgetServiceToken(row.id);
  if (row.was_revoked) return;
  await appendAudit(
    {
      tenantId: input.tenantId,
      actor: input.actor,
      action: "service_token.revoked",
      target: `${input.serviceName}/${row.id}`,
      outcome: "success",
      traceId: input.meta?.traceId ?? null,
      ip: input.meta?.ip ?? null,
      data: { service: input.serviceName, prefix: row.prefix },
    },
    client,
  );
}

// --- HTTP callers ----------------------------------------------------------------------------------

/**
 * Runs `fn` in the tenant whose service tokens an admin manages: their own; a global admin must
 * name one (`{"tenant"}` or `?tenant=`), since a service name is only unique within a tenant.
 */
function inAdminTenant<T>(
  principal: Principal,
  tenantParam: string | undefined,
  meta: RequestMeta,
  view: string,
  fn: (c: TenantClient, tenantId: string) => Promise<T>,
): Promise<T> {
  if (principal.role !== "admin") throw new AppError("role_forbidden", "This action needs the admin role.");
  if (principal.tenantId === null && tenantParam === undefined) {
    throw new AppError("validation_failed", 'tenant: name the service\'s tenant (`?tenant=` or `{"tenant"}`).', {
      extra: { errors: [{ path: "tenant", message: "required for an admin without a tenant" }] },
    });
  }
  return inCallerScope({ principal, tenantParam, meta, view }, (c, tenant) => fn(c, tenant!));
}

export function issueServiceTokenFromRequest(
  principal: Principal,
  serviceName: string,
  body: IssueTokenBody,
  tenantQuery: string | undefined,
  meta: RequestMeta,
): Promise<IssuedServiceToken> {
  if (body.tenant !== undefined && tenantQuery !== undefined && body.tenant !== tenantQuery) {
    throw new AppError("validation_failed", "tenant: the body and the query name different tenants.");
  }
  return inAdminTenant(principal, body.tenant ?? tenantQuery, meta, `service-tokens:${serviceName}`, (c, tenantId) =>
    issueServiceToken(c, {
      tenantId,
      serviceName,
      queues: body.queues ?? [],
      createdBy: principal.username,
      meta,
    }),
  );
}

export function listServiceTokensFromRequest(
  principal: Principal,
  serviceName: string,
  tenantQuery: string | undefined,
  meta: RequestMeta,
): Promise<{ items: ServiceTokenView[]; nextCursor: null }> {
  return inAdminTenant(principal, tenantQuery, meta, `service-tokens:${serviceName}`, async (c, tenantId) => ({
    items: await listServiceTokens(c, tenantId, serviceName),
    nextCursor: null,
  }));
}

export function revokeServiceTokenFromRequest(
  principal: Principal,
  serviceName: string,
  tokenId: string,
  tenantQuery: string | undefined,
  meta: RequestMeta,
): Promise<void> {
  return inAdminTenant(principal, tenantQuery, meta, `service-tokens:${serviceName}`, (c, tenantId) =>
    revokeServiceToken(c, { tenantId, serviceName, tokenId, actor: principal.username, meta }),
  );
}
