import { z } from "zod";
import { QUEUE_NAME } from "../auth/service-tokens";
import { AppError } from "../http/app-error";

/**
 * HMS-SVC queue input (ARCHITECTURE.md §5): names, bodies and their limits, validated once at
 * the edge for both the lean data plane (queue-http.ts) and the Next.js routes.
 */
export { QUEUE_NAME };

/** A payload is one JSON object of at most this many bytes (as stored: compact JSON, UTF-8). */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
/** A request body may carry some whitespace and the envelope around the payload. */
export const MAX_BODY_BYTES = 2 * MAX_PAYLOAD_BYTES;
export const MAX_LEASE_BATCH = 100;
export const MAX_VISIBILITY_SECONDS = 43_200;
export const MAX_WAIT_SECONDS = 20;
export const MAX_DELAY_SECONDS = 43_200;

export function checkQueueName(name: string): string {
  if (!QUEUE_NAME.test(name)) {
    throw new AppError(
      "validation_failed",
      "queue: a queue name is 1–63 of a-z 0-9 . _ -, starting with a letter or digit.",
      { extra: { errors: [{ path: "queue", message: "invalid queue name" }] } },
    );
  }
  return name;
}

const seconds = (max: number) => z.number().int().min(0).max(max);

export const sendBody = z.strictObject({
  payload: z.record(z.string(), z.unknown(), "payload must be a JSON object"),
  delaySeconds: seconds(MAX_DELAY_SECONDS).optional(),
});
export type SendBody = z.infer<typeof sendBody>;

export const leaseBody = z.strictObject({
  max: z.number().int().min(1).max(MAX_LEASE_BATCH).optional(),
  visibilitySeconds: z.number().int().min(1).max(MAX_VISIBILITY_SECONDS).optional(),
  waitSeconds: z.number().min(0).max(MAX_WAIT_SECONDS).optional(),
});
export type LeaseBody = z.infer<typeof leaseBody>;

export const nackBody = z.strictObject({
  delaySeconds: seconds(MAX_DELAY_SECONDS).optional(),
  /** why it failed; kept as the message's last_error (shown with dead letters) */
  error: z.string().max(2_000).optional(),
});
export type NackBody = z.infer<typeof nackBody>;

/** Compact JSON of a payload, refused with 413 when larger than MAX_PAYLOAD_BYTES. */
export function serialisePayload(payload: Record<string, unknown>): string {
  const text = JSON.stringify(payload);
  if (text.length > MAX_PAYLOAD_BYTES / 3 && Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) {
    throw new AppError("payload_too_large", `A message payload may be at most ${MAX_PAYLOAD_BYTES / 1024} KiB.`);
  }
  return text;
}

/** Parses a JSON request body text (empty = `{}`); 400 `invalid_json` when broken. */
export function parseJsonText(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError("invalid_json", "The request body must be valid JSON.");
  }
}

export function bodyTooLarge(): AppError {
  return new AppError("payload_too_large", `A request body may be at most ${MAX_BODY_BYTES / 1024} KiB.`);
}

/** Reads a Web Request's body as text, refusing more than MAX_BODY_BYTES without buffering it all. */
export async function readLimitedText(req: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > limit) throw bodyTooLarge();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      // Stop reading, without cancelling: a cancel destroys the request and resets the connection
      // before the 413 is out; the server's early-answer guard discards the rest and closes.
      reader.releaseLock();
      throw bodyTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** `?tenant=` on the operator endpoints (global admins). */
export const tenantQuery = z.strictObject({ tenant: z.string().min(1).max(100).optional() });
