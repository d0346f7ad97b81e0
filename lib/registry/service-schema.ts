import { z } from "zod";
import { roles, type Role } from "../auth/principal";

/**
 * The service registry's request and response shapes (ARCHITECTURE.md §2, §5). One schema serves
 * the JSON API and `registry.yml`, so a file and a form refuse the same things with the same words.
 *
 * Objects are strict: an unknown key (a typo such as `healthpath`) is an error rather than a
 * silently ignored field that would register a service with the wrong settings.
 */

export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_LABEL_MESSAGE =
  'must be a DNS label: 1-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit (e.g. "doc-review")';
export const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const healthStatuses = ["green", "yellow", "red", "unknown"] as const;
export type HealthStatus = (typeof healthStatuses)[number];

export const serviceName = z.string().regex(DNS_LABEL, DNS_LABEL_MESSAGE);

/**
 * An instance URL is a base URL (scheme, host, port, optional path prefix). It is stored without
 * a trailing slash so that `url + healthPath` is the probe target and the same URL written two
 * ways (`http://a:80/`, `http://A`) is one instance. Scheme, credentials and the SSRF policy are
 * checked by lib/net/network-policy.ts (its own error codes), not here.
 */
export function normaliseInstanceUrl(raw: string): string | null {
  const text = raw.trim();
  if (!URL.canParse(text)) return null;
  const u = new URL(text);
  const path = u.pathname.replace(/\/+$/, "");
  u.pathname = path === "" ? "/" : path;
  const href = u.href;
  return path === "" && href.endsWith("/") ? href.slice(0, -1) : href;
}

export const instanceUrl = z
  .string()
  .max(2048, "must be at most 2048 characters")
  .superRefine((v, ctx) => {
    const t = v.trim();
    if (!URL.canParse(t) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
      ctx.addIssue({ code: "custom", message: 'must be an absolute URL such as "http://host:7100"' });
      return;
    }
    const u = new URL(t);
    if (u.search || u.hash || t.includes("#") || t.includes("?")) {
      ctx.addIssue({ code: "custom", message: "must be a base URL without a query or fragment" });
    }
  })
  .transform((v) => normaliseInstanceUrl(v) ?? v);

/**
 * A probe path is appended to the instance URL. "//host/x" or "/\host" would make it a
 * scheme-relative URL pointing somewhere else entirely, so those are refused.
 */
export const healthPath = z
  .string()
  .max(512, "must be at most 512 characters")
  .regex(/^\/(?![/\\])[^\s\\#]*$/, 'must start with "/" (e.g. "/health"), with no spaces, backslashes or "#"');

/** An empty (or blank) description means "none", so a form can clear it by sending "". */
const description = z
  .string()
  .trim()
  .max(500, "must be at most 500 characters")
  .transform((v) => (v === "" ? null : v));

const instanceShape = {
  /** Names an existing instance of this service (keeps its identity and health state). */
  id: z.uuid("must be the id of an existing instance of this service").optional(),
  url: instanceUrl,
  region: z
    .string()
    .regex(REGION, 'must be a region name: lowercase letters, digits and hyphens (e.g. "primary", "secondary")')
    .default("primary"),
  weight: z.number().int("must be a whole number").min(0).max(1000).default(1),
  /** Omitted = keep the current drain state (new instances start enabled). */
  enabled: z.boolean().optional(),
};
export const instanceInput = z.strictObject(instanceShape);
export type InstanceInput = z.output<typeof instanceInput>;

function uniqueUrls(instances: { url: string }[], ctx: z.RefinementCtx) {
  const seen = new Map<string, number>();
  instances.forEach((inst, i) => {
    const first = seen.get(inst.url);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["instances", i, "url"],
        message: `duplicate URL: instances.${first}.url is the same instance`,
      });
    } else seen.set(inst.url, i);
  });
}

const instances = z
  .array(instanceInput)
  .min(1, "a service needs at least one instance")
  .max(50, "a service may have at most 50 instances");

const int = (min: number, max: number, unit = "") =>
  z
    .number()
    .int("must be a whole number")
    .min(min, `must be at least ${min}${unit}`)
    .max(max, `must be at most ${max}${unit}`);

const settings = {
  healthPath,
  checkIntervalSeconds: int(5, 3600, " seconds"),
  timeoutMs: int(100, 30_000, " ms"),
  failureThreshold: int(1, 20),
  successThreshold: int(1, 20),
  latencyBudgetMs: int(10, 60_000, " ms"),
  // Gateway and circuit breaker (issue 4). `timeoutMs` above is the health probe's; a real call
  // may legitimately take far longer than a /health answer, hence a separate, larger budget.
  gatewayTimeoutMs: int(100, 120_000, " ms"),
  forwardIdentity: z.boolean("must be true or false"),
  breakerFailureRatePct: int(1, 100, "%"),
  breakerMinCalls: int(1, 10_000),
  breakerConsecutiveFailures: int(1, 1000),
  breakerWindowSeconds: int(1, 300, " seconds"),
  breakerOpenSeconds: int(1, 3600, " seconds"),
  breakerHalfOpenCalls: int(1, 100),
};

/**
 * The gateway and breaker settings' defaults, equal to the column defaults of migration
 * *_gateway, so a service registered by plain SQL (the demo fleet) gets the same values.
 * registry.yml export leaves one of these out when it has its default value: files of services
 * that never touched them stay exactly as they were before the settings existed.
 */
export const gatewayDefaults = {
  gatewayTimeoutMs: 10_000,
  forwardIdentity: false,
  breakerFailureRatePct: 50,
  breakerMinCalls: 10,
  breakerConsecutiveFailures: 5,
  breakerWindowSeconds: 10,
  breakerOpenSeconds: 30,
  breakerHalfOpenCalls: 3,
} as const;
export type GatewaySetting = keyof typeof gatewayDefaults;
export const gatewaySettingKeys = Object.keys(gatewayDefaults) as GatewaySetting[];

/**
 * Who may call a service through the gateway (ARCHITECTURE.md §7): user roles of the service's
 * tenant, and service tokens of that tenant by the name of the service they were issued for
 * (`"*"`: every service token of the tenant). Omitted lists take their default, so `{}` is the
 * default policy: staff and every service token, no veterans. Stored and shown in one canonical
 * form (roles in the order veteran, operator, admin; service names sorted, `"*"` alone), so two
 * spellings of one policy compare equal and an import of an export is a no-op.
 */
export interface GatewayAccess {
  roles: Role[];
  services: string[];
}
export const defaultGatewayAccess: { readonly roles: readonly Role[]; readonly services: readonly string[] } = {
  roles: ["operator", "admin"],
  services: ["*"],
};

export function canonicalAccess(a: { roles?: readonly Role[]; services?: readonly string[] }): GatewayAccess {
  const wanted = new Set(a.roles ?? defaultGatewayAccess.roles);
  const names = [...new Set(a.services ?? defaultGatewayAccess.services)];
  return {
    roles: roles.filter((r) => wanted.has(r)),
    services: names.includes("*") ? ["*"] : names.sort(),
  };
}

export function isDefaultAccess(a: GatewayAccess): boolean {
  return sameAccess(a, defaultGatewayAccess);
}

export function sameAccess(a: typeof defaultGatewayAccess, b: typeof defaultGatewayAccess): boolean {
  return a.roles.join(",") === b.roles.join(",") && a.services.join(",") === b.services.join(",");
}

export const gatewayAccess = z
  .strictObject({
    roles: z
      .array(z.enum(roles, 'must be "veteran", "operator" or "admin"'))
      .max(10, "may list at most 10 roles")
      .optional(),
    services: z
      .array(
        z.string().refine((v) => v === "*" || DNS_LABEL.test(v), {
          message: `must be a service name (${DNS_LABEL_MESSAGE}) or "*" for every service of the tenant`,
        }),
      )
      .max(200, "may list at most 200 services")
      .optional(),
  })
  .transform(canonicalAccess);

/**
 * The `services.access` column: NULL is the default policy (so a service registered by plain SQL,
 * or before the column existed, gets it), anything else the canonical JSON. A stored value that
 * does not parse (written by hand) allows nobody: access control fails closed.
 */
export function accessFromStored(v: unknown): GatewayAccess {
  if (v === null || v === undefined) return canonicalAccess({});
  const r = gatewayAccess.safeParse(v);
  return r.success ? r.data : { roles: [], services: [] };
}
export function accessToStored(a: GatewayAccess): string | null {
  return isDefaultAccess(a) ? null : JSON.stringify(canonicalAccess(a));
}

export const serviceDefaults = {
  healthPath: "/health",
  checkIntervalSeconds: 10,
  timeoutMs: 2000,
  failureThreshold: 3,
  successThreshold: 2,
  latencyBudgetMs: 1000,
  ...gatewayDefaults,
} as const;

/** `POST /api/v1/services` and each service of a registry.yml. */
export const serviceInput = z
  .strictObject({
    name: serviceName,
    /** A global admin names the owner tenant; anyone else gets (and may only name) their own. */
    tenant: z.string().min(1).max(100).optional(),
    description: description.optional(),
    healthPath: settings.healthPath.default(serviceDefaults.healthPath),
    checkIntervalSeconds: settings.checkIntervalSeconds.default(serviceDefaults.checkIntervalSeconds),
    timeoutMs: settings.timeoutMs.default(serviceDefaults.timeoutMs),
    failureThreshold: settings.failureThreshold.default(serviceDefaults.failureThreshold),
    successThreshold: settings.successThreshold.default(serviceDefaults.successThreshold),
    latencyBudgetMs: settings.latencyBudgetMs.default(serviceDefaults.latencyBudgetMs),
    gatewayTimeoutMs: settings.gatewayTimeoutMs.default(serviceDefaults.gatewayTimeoutMs),
    forwardIdentity: settings.forwardIdentity.default(serviceDefaults.forwardIdentity),
    breakerFailureRatePct: settings.breakerFailureRatePct.default(serviceDefaults.breakerFailureRatePct),
    breakerMinCalls: settings.breakerMinCalls.default(serviceDefaults.breakerMinCalls),
    breakerConsecutiveFailures: settings.breakerConsecutiveFailures.default(serviceDefaults.breakerConsecutiveFailures),
    breakerWindowSeconds: settings.breakerWindowSeconds.default(serviceDefaults.breakerWindowSeconds),
    breakerOpenSeconds: settings.breakerOpenSeconds.default(serviceDefaults.breakerOpenSeconds),
    breakerHalfOpenCalls: settings.breakerHalfOpenCalls.default(serviceDefaults.breakerHalfOpenCalls),
    /** Omitted = off for a new service, unchanged for an existing one (an import never ends maintenance by omission). */
    maintenance: z.boolean().optional(),
    /** Who may call it through the gateway; omitted = the default policy (defaultGatewayAccess). */
    access: gatewayAccess.optional(),
    instances,
  })
  .superRefine((s, ctx) => uniqueUrls(s.instances, ctx));
export type ServiceInput = z.output<typeof serviceInput>;

/**
 * `PATCH /api/v1/services/<name>`: every field optional. `instances`, when present, is the new
 * set: entries matched by `id`, else by `url`, keep their identity and health state; new ones are
 * added; existing ones not listed are removed.
 */
export const servicePatch = z
  .strictObject({
    name: serviceName.optional(),
    description: description.nullable().optional(),
    healthPath: settings.healthPath.optional(),
    checkIntervalSeconds: settings.checkIntervalSeconds.optional(),
    timeoutMs: settings.timeoutMs.optional(),
    failureThreshold: settings.failureThreshold.optional(),
    successThreshold: settings.successThreshold.optional(),
    latencyBudgetMs: settings.latencyBudgetMs.optional(),
    gatewayTimeoutMs: settings.gatewayTimeoutMs.optional(),
    forwardIdentity: settings.forwardIdentity.optional(),
    breakerFailureRatePct: settings.breakerFailureRatePct.optional(),
    breakerMinCalls: settings.breakerMinCalls.optional(),
    breakerConsecutiveFailures: settings.breakerConsecutiveFailures.optional(),
    breakerWindowSeconds: settings.breakerWindowSeconds.optional(),
    breakerOpenSeconds: settings.breakerOpenSeconds.optional(),
    breakerHalfOpenCalls: settings.breakerHalfOpenCalls.optional(),
    maintenance: z.boolean().optional(),
    /** The whole new policy (`{}` = back to the default); omitted = unchanged. */
    access: gatewayAccess.optional(),
    instances: instances.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.instances) uniqueUrls(s.instances, ctx);
  });
export type ServicePatch = z.output<typeof servicePatch>;

/** `PATCH /api/v1/services/<name>/instances/<id>`: drain (false) or enable (true). */
export const instancePatch = z.strictObject({ enabled: z.boolean() });
export type InstancePatch = z.output<typeof instancePatch>;

/** `?tenant=` on single-service reads and writes (global admins). */
export const tenantQuery = z.object({ tenant: z.string().min(1).max(100).optional() });

const flag = z
  .enum(["1", "0", "true", "false"], 'must be "1" or "0"')
  .optional()
  .transform((v) => v === "1" || v === "true");

/** `POST /api/v1/registry/import?dry_run=1&prune=1&tenant=…` */
export const importQuery = z.object({
  dry_run: flag,
  prune: flag,
  tenant: z.string().min(1).max(100).optional(),
});

/** Opaque keyset cursor: base64url of `[tenantId, name]` of the last item of the previous page. */
export function encodeCursor(tenantId: string, name: string): string {
  return Buffer.from(JSON.stringify([tenantId, name])).toString("base64url");
}
const cursorMessage = "cursor must come from a previous page's nextCursor";
const cursor = z
  .string()
  .max(400, cursorMessage)
  .transform((v, ctx) => {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(v, "base64url").toString("utf8"));
      if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((x) => typeof x === "string")) {
        return { tenantId: parsed[0] as string, name: parsed[1] as string };
      }
    } catch {
      // fall through
    }
    ctx.addIssue({ code: "custom", message: cursorMessage });
    return z.NEVER;
  });

export const listServicesQuery = z.object({
  tenant: z.string().min(1).max(100).optional(),
  status: z.enum(healthStatuses).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: cursor.optional(),
});
export type ListServicesQuery = z.output<typeof listServicesQuery>;

/** The response shape of one service (ISO strings for timestamps). */
export interface InstanceView {
  id: string;
  url: string;
  region: string;
  weight: number;
  enabled: boolean;
  status: HealthStatus;
  statusReason: string | null;
  lastCheckedAt: string | null;
  lastLatencyMs: number | null;
  lastError: string | null;
}

/** A service's settings as stored: what the API shows and what a PATCH or an import diffs against. */
export interface ServiceSettingValues {
  description: string | null;
  healthPath: string;
  checkIntervalSeconds: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
  latencyBudgetMs: number;
  /** gateway: upstream timeout per call, ms (past it the gateway answers 504) */
  gatewayTimeoutMs: number;
  /** gateway: send the upstream a short-lived token for this service naming the caller */
  forwardIdentity: boolean;
  breakerFailureRatePct: number;
  breakerMinCalls: number;
  breakerConsecutiveFailures: number;
  breakerWindowSeconds: number;
  breakerOpenSeconds: number;
  breakerHalfOpenCalls: number;
  maintenance: boolean;
  /** gateway: who may call it (always the effective policy, defaults filled in) */
  access: GatewayAccess;
}

export interface ServiceView extends ServiceSettingValues {
  name: string;
  tenant: string;
  status: HealthStatus;
  statusReason: string | null;
  statusChangedAt: string | null;
  instances: InstanceView[];
}

/** An instance URL accepted although its host does not resolve from here (see service-repository.ts). */
export interface UrlWarning {
  name: string;
  url: string;
  message: string;
}
