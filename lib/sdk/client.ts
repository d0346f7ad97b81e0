/**
 * HMS-SYS client SDK: plain `fetch`, no dependencies, usable from Node 20+ and browsers.
 *
 *   const { access_token } = await getToken({ baseUrl, username, password });
 *   const { claimId } = await submitClaim({ baseUrl, token: access_token, pdf });
 */
export class HmsApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly problem: unknown,
  ) {
    super(`${status} ${code}: ${detail}`);
    this.name = "HmsApiError";
  }
}

type FetchLike = typeof fetch;

interface Base {
  baseUrl: string;
  fetch?: FetchLike;
}

async function fail(res: Response): Promise<never> {
  let problem: { code?: string; detail?: string } = {};
  try {
    problem = (await res.json()) as typeof problem;
  } catch {
    /* not JSON */
  }
  throw new HmsApiError(res.status, problem.code ?? `http_${res.status}`, problem.detail ?? res.statusText, problem);
}

const url = (base: string, p: string) => new URL(p, base.endsWith("/") ? base : `${base}/`).toString();

export async function getToken(o: Base & { username: string; password: string }) {
  const res = await (o.fetch ?? fetch)(url(o.baseUrl, "api/v1/auth/token"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: o.username, password: o.password }),
  });
  if (!res.ok) return fail(res);
  return (await res.json()) as { access_token: string; token_type: "Bearer"; expires_in: number };
}

export interface SubmittedClaim {
  claimId: string;
  status: string;
  location: string | null;
  /** SHA-256 (hex) the server computed; already checked against the bytes we sent. */
  sha256: string;
  replayed: boolean;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Uploads a claim PDF. Pass an `idempotencyKey` to retry safely after a network failure. */
export async function submitClaim(
  o: Base & { token: string; pdf: Uint8Array; idempotencyKey?: string },
): Promise<SubmittedClaim> {
  const headers: Record<string, string> = { authorization: `Bearer ${o.token}`, "content-type": "application/pdf" };
  if (o.idempotencyKey) headers["idempotency-key"] = o.idempotencyKey;
  const res = await (o.fetch ?? fetch)(url(o.baseUrl, "claims"), {
    method: "POST",
    headers,
    body: o.pdf as Uint8Array<ArrayBuffer>,
  });
  if (res.status !== 201) return fail(res);
  const body = (await res.json()) as { claim_id: string; status: string };
  const local = await sha256Hex(o.pdf);
  const remote = res.headers.get("x-content-sha256");
  if (remote !== local) {
    throw new HmsApiError(res.status, "digest_mismatch", `server stored ${remote}, we sent ${local}`, null);
  }
  return {
    claimId: body.claim_id,
    status: body.status,
    location: res.headers.get("location"),
    sha256: remote,
    replayed: res.headers.get("idempotent-replayed") === "true",
  };
}

export interface ClaimView {
  claim_id: string;
  status: string;
  tenant: string;
  veteran: string;
  createdAt: string;
  updatedAt: string;
  document: {
    sizeBytes: number;
    sha256: string;
    pageCount: number;
    contentType: string;
    riskyFeatures: string[];
    url: string;
  };
  timeline: { status: string; at: string; note: string | null; actor: string }[];
}

export async function getClaim(o: Base & { token: string; claimId: string }): Promise<ClaimView> {
  const res = await (o.fetch ?? fetch)(url(o.baseUrl, `api/v1/claims/${encodeURIComponent(o.claimId)}`), {
    headers: { authorization: `Bearer ${o.token}` },
  });
  if (!res.ok) return fail(res);
  return (await res.json()) as ClaimView;
}
