import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

const g = globalThis as unknown as { hmsReplicaId?: string };

/**
 * This web process's id as a gateway replica: `<host>:<pid>:<random>`. Unique per process start,
 * shared by every module copy in the process (Next's bundle and the custom server), so heartbeat,
 * breaker transitions and rate-limit leases all name the same replica.
 */
export function replicaId(): string {
  g.hmsReplicaId ??= process.env.HMS_REPLICA_ID ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  return g.hmsReplicaId;
}
