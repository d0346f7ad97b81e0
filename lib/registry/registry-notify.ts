import type pg from "pg";

/**
 * Registry change notices. Gateway replicas keep the registry in memory (no database round trip
 * on the hot path), so every write to a service or its instances announces the service's id on
 * this channel and each replica reloads that one service (lib/gateway/gateway-sync.ts LISTENs).
 *
 * The notice is sent with `pg_notify` on the writing transaction's own connection: PostgreSQL
 * holds it until COMMIT and drops it on ROLLBACK, so a replica never reloads before the change
 * is visible, and a refused write announces nothing. Identical notices in one transaction are
 * folded into one by PostgreSQL, so calling this once per statement is harmless.
 */
export const REGISTRY_CHANNEL = "hms_registry";

/** The payload is the service's id (a uuid), also after the service was deleted. */
export async function notifyRegistryChange(tx: Pick<pg.ClientBase, "query">, serviceId: string): Promise<void> {
  await tx.query(`SELECT pg_notify($1, $2)`, [REGISTRY_CHANNEL, serviceId]);
}
