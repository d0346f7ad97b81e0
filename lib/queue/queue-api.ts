import { actorOf, type Caller } from "../auth/principal";
import { mayUseQueue } from "../auth/service-tokens";
import { AppError } from "../http/app-error";
import { checkQueueName, leaseBody, nackBody, sendBody, type LeaseBody } from "./queue-schema";
import { ackMessage, leaseMessages, nackMessage, sendMessage, type LeasedMessage } from "./queue-store";

/**
 * The queue data plane's request logic (send, lease, ack, nack), shared by the lean node:http
 * handler (queue-http.ts) and the Next.js route files: who may use which queue of which tenant,
 * body validation, and the store call. Bodies arrive as parsed JSON (`unknown`).
 *
 * - A service token acts in its own tenant, on the queues it lists (all when it lists none);
 *   another queue → 403 `queue_forbidden`.
 * - Users: operators and admins bound to a tenant, in that tenant. (A global admin acts on a
 *   tenant's queues through the operator endpoints, not as a consumer.)
 * - Another tenant's message id is not visible in the caller's tenant scope: 404.
 */
export function queueTenantOf(caller: Caller, queue: string): string {
  checkQueueName(queue);
  if (caller.kind === "service") {
    if (!mayUseQueue(caller, queue)) {
      throw new AppError("queue_forbidden", `This service token may not use queue "${queue}".`);
    }
    return caller.tenantId;
  }
  if (caller.role !== "operator" && caller.role !== "admin") {
    throw new AppError("role_forbidden", "Queues need a service token, or the operator or admin role.");
  }
  if (caller.tenantId === null) {
    throw new AppError("tenant_forbidden", "Queue calls act in one tenant; use a tenant's account or a service token.");
  }
  return caller.tenantId;
}

/** What `leased_by` records for a lease: `service:<name>` or the username. */
export function leaseHolderOf(caller: Caller): string {
  return actorOf(caller);
}

export async function sendFromCaller(caller: Caller, queue: string, body: unknown): Promise<{ id: string }> {
  const tenant = queueTenantOf(caller, queue);
  const b = sendBody.parse(body);
  return { id: await sendMessage(tenant, queue, b.payload, { delaySeconds: b.delaySeconds }) };
}

export async function leaseFromCaller(
  caller: Caller,
  queue: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<{ messages: LeasedMessage[] }> {
  const tenant = queueTenantOf(caller, queue);
  const b: LeaseBody = leaseBody.parse(body);
  return { messages: await leaseMessages(tenant, queue, b, leaseHolderOf(caller), signal) };
}

export async function ackFromCaller(caller: Caller, queue: string, id: string): Promise<void> {
  await ackMessage(queueTenantOf(caller, queue), queue, id);
}

export async function nackFromCaller(caller: Caller, queue: string, id: string, body: unknown): Promise<void> {
  const tenant = queueTenantOf(caller, queue);
  const b = nackBody.parse(body);
  await nackMessage(tenant, queue, id, b);
}
