import { createHash } from "node:crypto";
import { AppError } from "../http/app-error";

/**
 * Streams a request body with a hard size cap, hashing as it goes. Never reads past the cap: it
 * stops at the first chunk over it and leaves the rest unread. It does not cancel the stream —
 * on a Node server that destroys the request and resets the connection before the 413 is out;
 * the server's early-answer guard (lib/http/early-answer.ts) discards the rest and closes cleanly.
 * It checks the byte count against a declared Content-Length so a cut-off upload is refused
 * rather than silently stored short.
 * The bytes are kept once, in the chunks as they arrived: PDF validation needs random access
 * (the cross-reference table is at the end), so a body cannot be validated in one pass.
 */
export interface ReadBody {
  bytes: Buffer;
  size: number;
  sha256: Buffer;
}

export function declaredLength(req: Request): number | null {
  const raw = req.headers.get("content-length");
  if (raw === null) return null;
  if (!/^\d{1,15}$/.test(raw.trim())) throw new AppError("invalid_request", "Content-Length is not a number.");
  return Number(raw.trim());
}

export function tooLarge(maxBytes: number): AppError {
  const mb = (maxBytes / (1024 * 1024)).toFixed(0);
  return new AppError("payload_too_large", `The file is larger than the ${mb} MB limit.`, {
    extra: { maxBytes },
  });
}

export async function readBodyCapped(
  body: ReadableStream<Uint8Array> | null,
  opts: { maxBytes: number; declared: number | null },
): Promise<ReadBody> {
  if (opts.declared !== null && opts.declared > opts.maxBytes) throw tooLarge(opts.maxBytes);
  const hash = createHash("sha256");
  // With a Content-Length the bytes land in one buffer of that size as they arrive (1× the file);
  // a chunked upload keeps its chunks and joins them once at the end.
  const target = opts.declared !== null ? Buffer.allocUnsafe(opts.declared) : null;
  const chunks: Buffer[] = [];
  let size = 0;
  if (body) {
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const next = size + value.byteLength;
        // Stop reading (no cancel: see above); the answer goes out, then the connection closes.
        if (next > opts.maxBytes) throw tooLarge(opts.maxBytes);
        if (target && next > target.length) {
          throw new AppError("invalid_request", "The body is longer than its Content-Length.");
        }
        hash.update(value);
        if (target) target.set(value, size);
        else chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        size = next;
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError("body_incomplete", "The upload was interrupted before it finished.", { cause: err });
    } finally {
      reader.releaseLock();
    }
  }
  if (opts.declared !== null && size !== opts.declared) {
    throw new AppError(
      "body_incomplete",
      `The upload ended after ${size} of ${opts.declared} bytes; nothing was stored. Please try again.`,
    );
  }
  return { bytes: target ?? Buffer.concat(chunks, size), size, sha256: hash.digest() };
}

/** Slices the body into fixed-size storage chunks (views, no copies; the last may be shorter). */
export function* storageChunks(bytes: Buffer, chunkSize: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    yield bytes.subarray(offset, Math.min(offset + chunkSize, bytes.length));
  }
}
