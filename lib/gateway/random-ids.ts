import { randomFillSync } from "node:crypto";

/**
 * Random hex ids for trace and span ids, from a pool refilled 4 KiB at a time: one
 * `randomBytes` call per id cost the gateway ~3 % of its CPU (two ids per request). Same CSPRNG,
 * same entropy per id; only the syscall is shared.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

export function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = pool.toString("hex", offset, offset + bytes);
  offset += bytes;
  return out;
}
