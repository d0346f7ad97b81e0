import { withTenantOrAll } from "../db/tenant-scope";
import type pg from "pg";
import { z } from "zod";
import type { Principal } from "../auth/principal";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { getCircuit, isUuid, type CircuitView } from "./circuit-queries";
import { forceCircuit } from "./circuit-store";

/**
 * `POST /api/v1/circuits/<instanceId>/force`: an operator's override of one breaker. The write
 * itself (forced state, circuit_events, audit event `circuit.force`, NOTIFY) is the circuit
 * store's; this module decides who may ask and answers with the breaker as it now reads.
 */

export const forceBody = z.strictObject({
  state: z.enum(["open", "closed", "release"], 'must be "open", "closed" or "release"'),
});
export type ForceBody = z.infer<typeof forceBody>;

/**
 * The tenant whose instances the caller may force: their own; all of them for a global admin
 * (null). An operator without a tenant may force nothing — they must not fall through to the
 * store's "null = every tenant".
 */
function forceScope(p: Principal, instanceId: string): string | null {
  if (p.tenantId !== null) return p.tenantId;
  if (p.role === "admin") return null;
  throw new AppError("not_found", `No instance ${instanceId}.`);
}

export async function forceFromRequest(
  db: pg.Pool,
  p: Principal,
  instanceId: string,
  body: ForceBody,
  meta: Pick<RequestMeta, "traceId" | "ip">,
): Promise<CircuitView> {
  const tenantScope = forceScope(p, instanceId);
  // Not a uuid: it cannot name an instance (and must not reach a ::uuid cast as a 500).
  if (!isUuid(instanceId)) throw new AppError("not_found", `No instance ${instanceId}.`);
  const id = instanceId.toLowerCase();
  await forceCircuit(db, {
    instanceId: id,
    action: body.state,
    tenantScope,
    actor: p.username,
    traceId: meta.traceId,
    ip: meta.ip,
  });
  return withTenantOrAll(tenantScope, (c) => getCircuit(c, tenantScope, id), db);
}
