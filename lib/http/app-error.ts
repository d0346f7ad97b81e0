/**
 * The one error type of the system: a stable machine `code`, the HTTP status it maps to, and a
 * user-safe `detail`. Anything else that is thrown becomes 503 `dependency_unavailable` (database
 * down) or a generic 500 `internal_error` with a correlation id (see problem.ts).
 */
export const errorCodes = {
  // 400
  invalid_request: 400,
  invalid_json: 400,
  body_incomplete: 400,
  path_invalid: 400,
  // 401
  token_missing: 401,
  token_malformed: 401,
  token_expired: 401,
  token_invalid_signature: 401,
  token_algorithm_not_allowed: 401,
  token_claim_invalid: 401,
  invalid_credentials: 401,
  token_revoked: 401,
  // 403
  role_forbidden: 403,
  tenant_forbidden: 403,
  origin_forbidden: 403,
  queue_forbidden: 403,
  gateway_forbidden: 403,
  // 404
  not_found: 404,
  // 409
  idempotency_key_in_flight: 409,
  service_exists: 409,
  claim_transition_invalid: 409,
  message_not_leased: 409,
  message_not_dead: 409,
  // 413
  payload_too_large: 413,
  // 415
  unsupported_media_type: 415,
  // 422
  validation_failed: 422,
  idempotency_key_mismatch: 422,
  pdf_empty: 422,
  pdf_not_pdf: 422,
  pdf_truncated: 422,
  pdf_unparseable: 422,
  pdf_encrypted: 422,
  pdf_no_pages: 422,
  pdf_page_too_large: 422,
  registry_yaml_invalid: 422,
  url_invalid: 422,
  url_scheme_not_allowed: 422,
  url_credentials_not_allowed: 422,
  dns_resolution_failed: 422,
  ssrf_loopback: 422,
  ssrf_private: 422,
  ssrf_link_local: 422,
  ssrf_cgnat: 422,
  ssrf_multicast: 422,
  ssrf_reserved: 422,
  ssrf_unspecified: 422,
  ssrf_broadcast: 422,
  // 429
  rate_limited: 429,
  // 502 / 503 / 504 (gateway)
  upstream_failed: 502,
  no_healthy_instance: 503,
  upstream_timeout: 504,
  // 503
  dependency_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    detail: string,
    opts: { headers?: Record<string, string>; extra?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(detail, { cause: opts.cause });
    this.name = "AppError";
    this.code = code;
    this.status = errorCodes[code];
    this.detail = detail;
    this.headers = opts.headers ?? {};
    this.extra = opts.extra ?? {};
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
