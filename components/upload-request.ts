import { apiErrorFrom, type ApiError } from "./queries/api-error";
import { claimCreatedSchema, type ClaimCreated } from "./queries/claims";

export type UploadOutcome =
  | { kind: "created"; claim: ClaimCreated; reprDigest: string | null }
  | { kind: "failed"; error: ApiError; retryAfterSeconds: number | null }
  | { kind: "aborted" };

export interface UploadCallbacks {
  /** Bytes of the body sent so far (real numbers from `xhr.upload.onprogress`). */
  onProgress: (loaded: number, total: number) => void;
  /** The whole body is on the wire; the server is now validating and storing it. */
  onSent: () => void;
}

export interface UploadHandle {
  result: Promise<UploadOutcome>;
  abort: () => void;
}

/** A random v4 UUID; `crypto.randomUUID` needs a secure context, `getRandomValues` does not. */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * POST the raw PDF bytes to /api/v1/claims. XMLHttpRequest rather than fetch, because only XHR
 * reports upload progress. The session cookie authenticates the same-origin request.
 */
export function uploadClaimDocument(file: File, idempotencyKey: string, cb: UploadCallbacks): UploadHandle {
  const xhr = new XMLHttpRequest();
  const result = new Promise<UploadOutcome>((resolve) => {
    xhr.open("POST", "/api/v1/claims");
    xhr.setRequestHeader("Content-Type", "application/pdf");
    xhr.setRequestHeader("Accept", "application/json, application/problem+json");
    xhr.setRequestHeader("Idempotency-Key", idempotencyKey);
    xhr.timeout = 10 * 60 * 1000;

    xhr.upload.onprogress = (e) => cb.onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.upload.onload = () => cb.onSent();

    xhr.onload = () => {
      const text = xhr.responseText;
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          const parsed = claimCreatedSchema.safeParse(JSON.parse(text));
          if (parsed.success) {
            resolve({ kind: "created", claim: parsed.data, reprDigest: xhr.getResponseHeader("Repr-Digest") });
            return;
          }
        } catch {
          // fall through
        }
      }
      const retryAfter = Number(xhr.getResponseHeader("Retry-After"));
      resolve({
        kind: "failed",
        error: apiErrorFrom(xhr.status >= 200 && xhr.status < 300 ? 502 : xhr.status, text),
        retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
      });
    };
    xhr.onerror = () => resolve({ kind: "failed", error: apiErrorFrom(0, ""), retryAfterSeconds: null });
    xhr.ontimeout = () => resolve({ kind: "failed", error: apiErrorFrom(0, ""), retryAfterSeconds: null });
    xhr.onabort = () => resolve({ kind: "aborted" });

    xhr.send(file);
  });
  return { result, abort: () => xhr.abort() };
}

/**
 * Compares the server's `Repr-Digest: sha-256=:<base64>:` with the SHA-256 of the local file.
 * "unknown" when the header is missing or the browser cannot hash (no WebCrypto outside HTTPS).
 */
export async function compareDigest(file: File, reprDigest: string | null): Promise<"match" | "mismatch" | "unknown"> {
  const m = reprDigest?.match(/sha-256=:([A-Za-z0-9+/=]+):/i);
  if (!m?.[1] || !globalThis.crypto?.subtle) return "unknown";
  try {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
    const local = btoa(String.fromCharCode(...digest));
    return local === m[1] ? "match" : "mismatch";
  } catch {
    return "unknown";
  }
}
