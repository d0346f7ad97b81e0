import type { Principal } from "../auth/principal";
import { setting } from "../config/env";
import { pool } from "../db/pool";
import { inspectPdf } from "../documents/pdf-inspect";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import {
  beginIdempotent,
  parseIdempotencyKey,
  releaseIdempotent,
  requestFingerprint,
  type StoredResponse,
} from "../idempotency/idempotency-key";
import { ServerTiming } from "../telemetry/server-timing";
import { declaredLength, readBodyCapped, tooLarge } from "./read-body";
import { storeClaim } from "./store-claim";

export interface IntakeSettings {
  maxBytes: number;
}

export function intakeSettings(): IntakeSettings {
  return { maxBytes: setting("HMS_MAX_UPLOAD_BYTES") };
}

export interface IntakeResult extends StoredResponse {
  replayed: boolean;
}

function isPdfContentType(ct: string | null): boolean {
  return (ct ?? "").split(";")[0]!.trim().toLowerCase() === "application/pdf";
}

function digestHeaders(sha256: Buffer): Record<string, string> {
  return { "Repr-Digest": `sha-256=:${sha256.toString("base64")}:`, "X-Content-SHA256": sha256.toString("hex") };
}

/**
 * Claim intake: veteran with a tenant → PDF content type → size cap → idempotency → stream and
 * hash the body → validate the PDF → one transaction. On any failure nothing is stored.
 */
export async function submitClaim(
  req: Request,
  principal: Principal,
  meta: RequestMeta,
  settings: IntakeSettings = intakeSettings(),
): Promise<IntakeResult> {
  if (!principal.tenantId) throw new AppError("tenant_forbidden", "Your account does not belong to an agency.");
  const tenantId = principal.tenantId;
  const contentType = req.headers.get("content-type");
  if (!isPdfContentType(contentType)) {
    throw new AppError("unsupported_media_type", "Upload the claim as a PDF (Content-Type: application/pdf).");
  }
  const declared = declaredLength(req);
  if (declared !== null && declared > settings.maxBytes) throw tooLarge(settings.maxBytes);

  const key = parseIdempotencyKey(req.headers.get("idempotency-key"));
  const p = pool();
  const begun = key ? await beginIdempotent(p, principal.userId, key) : null;
  if (begun?.kind === "in_flight") {
    throw new AppError("idempotency_key_in_flight", "A request with this Idempotency-Key is still being processed.", {
      headers: { "Retry-After": "2" },
    });
  }
  const lockToken = begun?.kind === "proceed" ? begun.lockToken : null;
  const timing = new ServerTiming();
  try {
    const body = await readBodyCapped(req.body, { maxBytes: settings.maxBytes, declared });
    timing.lap("body");
    const requestHash = requestFingerprint(["POST /claims", "application/pdf", body.sha256]);
    if (begun?.kind === "completed") {
      if (begun.requestHash !== requestHash) {
        throw new AppError("idempotency_key_mismatch", "This Idempotency-Key was already used with a different file.");
      }
      return { ...begun.response, replayed: true };
    }
    const report = await inspectPdf(body.bytes);
    timing.lap("inspect");
    const headersFor = (claimId: string) => ({ Location: `/api/v1/claims/${claimId}`, ...digestHeaders(body.sha256) });
    const { claimId } = await storeClaim(p, {
      principal: { ...principal, tenantId },
      body,
      report,
      contentType: "application/pdf",
      meta,
      timing,
      idempotency: key && lockToken ? { key, lockToken, requestHash } : null,
      response: (id) => ({ status: 201, body: { claim_id: id, status: "QUEUED" }, headers: headersFor(id) }),
    });
    return {
      status: 201,
      body: { claim_id: claimId, status: "QUEUED" },
      headers: { ...headersFor(claimId), "Server-Timing": timing.header() },
      replayed: false,
    };
  } catch (err) {
    if (key && lockToken) await releaseIdempotent(p, principal.userId, key, lockToken).catch(() => {});
    throw err;
  }
}
