import {
  issueServiceTokenFromRequest,
  issueTokenBody,
  listServiceTokensFromRequest,
} from "@/lib/auth/service-token-admin";
import { authedRoute, json, param, parseJsonBody, parseQuery } from "@/lib/http/route";
import { tenantQuery } from "@/lib/queue/queue-schema";

export const dynamic = "force-dynamic";

/**
 * Issue a service token (admins): `{"queues"?: [..], "tenant"?}` → 201 `{"token", "id", "prefix",
 * "queues"}`. The secret is shown only in this answer. Audited `service_token.issued`.
 */
export const POST = authedRoute({ roles: ["admin"] }, async (ctx) => {
  const { tenant } = parseQuery(ctx.req, tenantQuery);
  const body = await parseJsonBody(ctx.req, issueTokenBody);
  const issued = await issueServiceTokenFromRequest(ctx.principal, param(ctx, "name"), body, tenant, ctx.meta);
  return json(issued, { status: 201 });
});

/** The service's tokens, without secrets: `{"items": [{id, prefix, queues, createdBy, createdAt, lastUsedAt, revokedAt}], "nextCursor": null}`. */
export const GET = authedRoute({ roles: ["admin"] }, async (ctx) => {
  const { tenant } = parseQuery(ctx.req, tenantQuery);
  return json(await listServiceTokensFromRequest(ctx.principal, param(ctx, "name"), tenant, ctx.meta));
});
