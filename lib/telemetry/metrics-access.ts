import { createHash, timingSafeEqual } from "node:crypto";
import { setting } from "../config/env";
import { AppError } from "../http/app-error";
import { authenticateRequest } from "../http/authenticate";

/**
 * Who may read `/api/metrics`, and which tenants' series they see:
 * - a Prometheus scraper with `Authorization: Bearer <HMS_METRICS_TOKEN>`: everything;
 * - a global admin (session or JWT): everything;
 * - an operator or tenant admin: process metrics and their own tenant's series only;
 * - anyone else: 401 (no or bad credentials) / 403 (a veteran).
 * A bearer value that is not the scrape token is tried as a JWT, so a wrong scrape token gets the
 * same 401 as a broken token and says nothing about whether a scrape token is configured.
 */
export async function metricsReader(req: Request): Promise<{ tenant: string | null }> {
  const scrapeToken = setting("HMS_METRICS_TOKEN");
  if (scrapeToken) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
    if (m && sameSecret(m[1]!, scrapeToken)) return { tenant: null };
  }
  const p = await authenticateRequest(req);
  if (p.role !== "operator" && p.role !== "admin") {
    throw new AppError("role_forbidden", "Metrics are for operators, administrators and the scrape token.");
  }
  if (p.tenantId === null && p.role !== "admin") {
    throw new AppError("tenant_forbidden", "Your account is not bound to a tenant.");
  }
  return { tenant: p.tenantId };
}

/** Constant-time comparison; hashing first makes it independent of the lengths too. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
