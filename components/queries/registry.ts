import { infiniteQueryOptions, keepPreviousData, queryOptions } from "@tanstack/react-query";
import { z } from "zod";
import { ApiError, apiErrorFrom, getJson } from "./api-error";

/**
 * The registry and health domain for the browser: response shapes of the board, service,
 * history, failures, probe, registry-import and demo-fleet APIs; the one React Query factory
 * (keys, fetchers, refresh cadence) every board and admin component uses; and the few writes.
 */

export const healthStatuses = ["red", "yellow", "green", "unknown"] as const;
export type HealthStatus = (typeof healthStatuses)[number];

export function isHealthStatus(s: unknown): s is HealthStatus {
  return typeof s === "string" && (healthStatuses as readonly string[]).includes(s);
}

/** A status the UI does not know (a newer server) is shown as "unknown" rather than breaking the page. */
const healthStatusSchema = z.enum(healthStatuses).catch("unknown");

// --- the board -----------------------------------------------------------------------------

export const boardItemSchema = z.object({
  name: z.string(),
  tenant: z.string(),
  status: healthStatusSchema,
  reason: z.string().nullish(),
  maintenance: z.boolean().catch(false),
  statusChangedAt: z.string().nullish(),
  lastCheckedAt: z.string().nullish(),
  p95LatencyMs: z.number().nullish(),
  regions: z.array(z.object({ region: z.string(), healthy: z.number(), total: z.number() })).catch([]),
  instances: z.object({ healthy: z.number(), total: z.number(), drained: z.number().nullish() }),
  // Breakers: optional so that a board from an older server still renders (no badges).
  circuits: z
    .object({ open: z.number(), halfOpen: z.number(), forced: z.number() })
    .catch({ open: 0, halfOpen: 0, forced: 0 }),
  failover: z.boolean().catch(false),
  activeRegion: z.string().nullish(),
  failoverReason: z.string().nullish(),
});
export type BoardItem = z.infer<typeof boardItemSchema>;

const count = z.number().int().nonnegative().catch(0);
export const boardSummarySchema = z.object({
  green: count,
  yellow: count,
  red: count,
  unknown: count,
  maintenance: count,
  total: count,
});
export type BoardSummary = z.infer<typeof boardSummarySchema>;

export const boardPageSchema = z.object({
  summary: boardSummarySchema,
  worker: z.object({ lastLoopAt: z.string().nullish(), stale: z.boolean() }),
  items: z.array(boardItemSchema),
  nextCursor: z.string().nullish(),
});
export type BoardPage = z.infer<typeof boardPageSchema>;

/** The board's status filter: a colour, or the services in maintenance (which the colours exclude). */
export const boardStatusFilters = [...healthStatuses, "maintenance"] as const;
export type BoardStatusFilter = (typeof boardStatusFilters)[number];

export function isBoardStatusFilter(s: unknown): s is BoardStatusFilter {
  return typeof s === "string" && (boardStatusFilters as readonly string[]).includes(s);
}

export interface BoardFilters {
  /** a global admin's choice of agency; null = every agency they can see */
  tenant: string | null;
  status: BoardStatusFilter | null;
  /** a name substring */
  q: string;
}

// --- one service ----------------------------------------------------------------------------

export const instanceViewSchema = z.object({
  id: z.string(),
  url: z.string(),
  region: z.string(),
  weight: z.number(),
  enabled: z.boolean(),
  status: healthStatusSchema,
  statusReason: z.string().nullish(),
  lastCheckedAt: z.string().nullish(),
  lastLatencyMs: z.number().nullish(),
  lastError: z.string().nullish(),
});
export type InstanceView = z.infer<typeof instanceViewSchema>;

/** The gateway's caller roles (lib/auth/principal.ts). */
export const gatewayRoles = ["veteran", "operator", "admin"] as const;
export type GatewayRole = (typeof gatewayRoles)[number];
/** The server's default policy (lib/registry/service-schema.ts defaultGatewayAccess). */
export const defaultGatewayAccess: GatewayAccess = { roles: ["operator", "admin"], services: ["*"] };

const gatewayAccessSchema = z.object({
  // A role this page does not know (a newer server) is dropped rather than breaking the page.
  roles: z
    .array(z.string())
    .transform((rs) => rs.filter((r): r is GatewayRole => (gatewayRoles as readonly string[]).includes(r))),
  services: z.array(z.string()),
});
export interface GatewayAccess {
  roles: GatewayRole[];
  services: string[];
}

export const serviceViewSchema = z.object({
  name: z.string(),
  tenant: z.string(),
  description: z.string().nullish(),
  healthPath: z.string(),
  checkIntervalSeconds: z.number(),
  timeoutMs: z.number(),
  failureThreshold: z.number(),
  successThreshold: z.number(),
  latencyBudgetMs: z.number(),
  // Gateway and breaker settings: optional so that a page served by an older server still
  // renders (the form then shows the defaults).
  gatewayTimeoutMs: z.number().optional(),
  forwardIdentity: z.boolean().optional(),
  breakerFailureRatePct: z.number().optional(),
  breakerMinCalls: z.number().optional(),
  breakerConsecutiveFailures: z.number().optional(),
  breakerWindowSeconds: z.number().optional(),
  breakerOpenSeconds: z.number().optional(),
  breakerHalfOpenCalls: z.number().optional(),
  /** who may call it through the gateway (absent from an older server: the form shows the default) */
  access: gatewayAccessSchema.optional(),
  maintenance: z.boolean(),
  status: healthStatusSchema,
  statusReason: z.string().nullish(),
  statusChangedAt: z.string().nullish(),
  instances: z.array(instanceViewSchema),
});
export type ServiceView = z.infer<typeof serviceViewSchema>;

/** A write's answer: the service, plus `warnings` when an instance's host does not resolve from here. */
export const serviceWriteSchema = serviceViewSchema.extend({
  warnings: z.array(z.object({ name: z.string().nullish(), url: z.string().nullish(), message: z.string() })).nullish(),
});
export type ServiceWrite = z.infer<typeof serviceWriteSchema>;

export const servicePageSchema = z.object({
  items: z.array(serviceViewSchema),
  nextCursor: z.string().nullish(),
});
export type ServicePage = z.infer<typeof servicePageSchema>;

export const historyRanges = ["15m", "1h", "24h", "7d"] as const;
export type HistoryRange = (typeof historyRanges)[number];

export const historyPointSchema = z.object({
  minute: z.string(),
  passes: count,
  warns: count,
  fails: count,
  p95LatencyMs: z.number().nullish(),
});
export type HistoryPoint = z.infer<typeof historyPointSchema>;
export const historySchema = z.object({ points: z.array(historyPointSchema) });

export const failureSchema = z.object({
  at: z.string(),
  instanceId: z.string(),
  url: z.string(),
  region: z.string().nullish(),
  httpStatus: z.number().nullish(),
  latencyMs: z.number().nullish(),
  error: z.string().nullish(),
});
export type Failure = z.infer<typeof failureSchema>;
export const failuresSchema = z.object({ items: z.array(failureSchema) });

// --- demo fleet -----------------------------------------------------------------------------

export const demoModes = ["ok", "slow", "fail", "flap", "down"] as const;
export type DemoMode = (typeof demoModes)[number];

export const demoInstanceSchema = z.object({
  instanceId: z.string(),
  service: z.string(),
  tenant: z.string().nullish(),
  region: z.string().nullish(),
  url: z.string(),
  mode: z.enum(demoModes).catch("ok"),
});
export type DemoInstance = z.infer<typeof demoInstanceSchema>;
export const demoInstancesSchema = z.object({ items: z.array(demoInstanceSchema) });

// --- probe and registry import --------------------------------------------------------------

export const probeResultSchema = z.object({
  outcome: z.enum(["pass", "warn", "fail"]),
  reason: z.string().nullish(),
  httpStatus: z.number().nullish(),
  latencyMs: z.number().nullish(),
});
export type ProbeResult = z.infer<typeof probeResultSchema>;

export const importPlanSchema = z.object({
  create: z.array(z.string()).catch([]),
  update: z.array(z.object({ name: z.string(), changes: z.array(z.string()).catch([]) })).catch([]),
  remove: z.array(z.string()).catch([]),
  unchanged: z.array(z.string()).catch([]),
  warnings: z.array(z.object({ name: z.string().nullish(), url: z.string().nullish(), message: z.string() })).nullish(),
});
export type ImportPlan = z.infer<typeof importPlanSchema>;
export const importResultSchema = z.object({ dryRun: z.boolean(), plan: importPlanSchema });
export type ImportResult = z.infer<typeof importResultSchema>;

// --- errors with field paths ------------------------------------------------------------------

export interface FieldProblem {
  /** "name", "instances.0.url"; empty for the whole request */
  path: string;
  message: string;
  /** YAML imports: 1-based position in the file */
  line?: number;
  column?: number;
}

const fieldProblemSchema = z.object({
  path: z.union([z.string(), z.array(z.union([z.string(), z.number()])).transform((p) => p.join("."))]).catch(""),
  message: z.string(),
  line: z.number().int().nullish(),
  column: z.number().int().nullish(),
});
const problemErrorsSchema = z.object({ errors: z.array(fieldProblemSchema) });

/** An API error that may carry field-level problems (`errors[]` of a 422). */
export class ProblemError extends ApiError {
  readonly errors: FieldProblem[];

  constructor(base: ApiError, errors: FieldProblem[]) {
    super(base.status, base.code, base.detail);
    this.name = "ProblemError";
    this.errors = errors;
  }
}

function problemFrom(status: number, text: string): ProblemError {
  const base = apiErrorFrom(status, text);
  let errors: FieldProblem[] = [];
  try {
    const parsed = problemErrorsSchema.safeParse(JSON.parse(text));
    if (parsed.success) {
      errors = parsed.data.errors.map((e) => ({
        path: e.path,
        message: e.message,
        line: e.line ?? undefined,
        column: e.column ?? undefined,
      }));
    }
  } catch {
    // not JSON: no field errors
  }
  return new ProblemError(base, errors);
}

/** Field errors of any error (empty when it has none). */
export function fieldProblems(e: unknown): FieldProblem[] {
  return e instanceof ProblemError ? e.errors : [];
}

/** A same-origin write (JSON or text body); problem+json failures become ProblemError. */
async function send(
  method: "POST" | "PATCH" | "DELETE",
  url: string,
  body?: { json: unknown } | { text: string; contentType: string },
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { accept: "application/json" };
  let payload: string | undefined;
  if (body && "json" in body) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body.json);
  } else if (body) {
    headers["content-type"] = body.contentType;
    payload = body.text;
  }
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  } catch {
    throw problemFrom(0, "");
  }
  const text = await res.text();
  if (!res.ok) throw problemFrom(res.status, text);
  return { status: res.status, text };
}

function parseAnswer<T>(status: number, text: string, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ApiError(status, "invalid_response", "The server sent an answer we couldn't read. Please try again.");
  }
  return parsed.data;
}

// --- URLs -----------------------------------------------------------------------------------

/** Appends `tenant=` when a global admin has picked an agency. */
export function withTenant(path: string, tenant: string | null | undefined, extra?: URLSearchParams): string {
  const qs = new URLSearchParams(extra);
  if (tenant) qs.set("tenant", tenant);
  const s = qs.toString();
  return s ? `${path}${path.includes("?") ? "&" : "?"}${s}` : path;
}

const servicePath = (name: string) => `/api/v1/services/${encodeURIComponent(name)}`;

/** The page of one service on the board (`/services` itself is an API alias). */
export function servicePageHref(name: string, tenant?: string | null): string {
  return withTenant(`/board/services/${encodeURIComponent(name)}`, tenant);
}

export function serviceEditHref(name: string, tenant?: string | null): string {
  return withTenant(`/admin/services/${encodeURIComponent(name)}/edit`, tenant);
}

// --- the factory ----------------------------------------------------------------------------

/** The board asks for news this often (the worker announces changes; 3 s keeps them within 5 s). */
export const BOARD_POLL_MS = 3_000;
export const BOARD_PAGE_SIZE = 100;
/** An open service page refreshes as often as the board. */
export const SERVICE_POLL_MS = 3_000;
export const FAILURES_POLL_MS = 5_000;
const HISTORY_POLL_MS: Record<HistoryRange, number> = { "15m": 10_000, "1h": 15_000, "24h": 60_000, "7d": 300_000 };
export const ADMIN_LIST_PAGE_SIZE = 50;

export const registryQueries = {
  /** Invalidate this to refresh everything registry-related (after any write). */
  all: () => ["registry"] as const,

  board: (filters: BoardFilters) =>
    infiniteQueryOptions({
      queryKey: [...registryQueries.all(), "board", filters] as const,
      queryFn: ({ pageParam, signal }) => {
        const qs = new URLSearchParams({ limit: String(BOARD_PAGE_SIZE) });
        if (filters.status) qs.set("status", filters.status);
        if (filters.q) qs.set("q", filters.q);
        if (pageParam) qs.set("cursor", pageParam);
        return getJson(withTenant("/api/v1/board", filters.tenant, qs), boardPageSchema, signal);
      },
      initialPageParam: null as string | null,
      getNextPageParam: (last: BoardPage) => last.nextCursor ?? undefined,
      refetchInterval: BOARD_POLL_MS,
      // A hidden tab does not poll; it catches up when it becomes visible again.
      refetchIntervalInBackground: false,
      staleTime: 1_000,
      // Typing in the search box or switching a filter keeps the last tiles until the new ones arrive.
      placeholderData: keepPreviousData,
    }),

  services: (tenant: string | null) =>
    infiniteQueryOptions({
      queryKey: [...registryQueries.all(), "services", tenant] as const,
      queryFn: ({ pageParam, signal }) => {
        const qs = new URLSearchParams({ limit: String(ADMIN_LIST_PAGE_SIZE) });
        if (pageParam) qs.set("cursor", pageParam);
        return getJson(withTenant("/api/v1/services", tenant, qs), servicePageSchema, signal);
      },
      initialPageParam: null as string | null,
      getNextPageParam: (last: ServicePage) => last.nextCursor ?? undefined,
      refetchInterval: 15_000,
      placeholderData: keepPreviousData,
    }),

  service: (name: string, tenant: string | null) =>
    queryOptions({
      queryKey: [...registryQueries.all(), "service", tenant, name] as const,
      queryFn: ({ signal }) => getJson(withTenant(servicePath(name), tenant), serviceViewSchema, signal),
      refetchInterval: SERVICE_POLL_MS,
      staleTime: 1_000,
    }),

  history: (name: string, tenant: string | null, range: HistoryRange) =>
    queryOptions({
      queryKey: [...registryQueries.all(), "history", tenant, name, range] as const,
      queryFn: ({ signal }) =>
        getJson(
          withTenant(`${servicePath(name)}/history`, tenant, new URLSearchParams({ range })),
          historySchema,
          signal,
        ),
      refetchInterval: HISTORY_POLL_MS[range],
      placeholderData: keepPreviousData,
    }),

  failures: (name: string, tenant: string | null) =>
    queryOptions({
      queryKey: [...registryQueries.all(), "failures", tenant, name] as const,
      queryFn: ({ signal }) => getJson(withTenant(`${servicePath(name)}/failures`, tenant), failuresSchema, signal),
      refetchInterval: FAILURES_POLL_MS,
    }),

  /** The demo fleet's instances; a 404 (not demo mode) means "hide the control" and is not retried. */
  demoInstances: () =>
    queryOptions({
      queryKey: [...registryQueries.all(), "demo-instances"] as const,
      queryFn: ({ signal }) => getJson("/api/v1/demo/instances", demoInstancesSchema, signal),
      refetchInterval: (query) => (query.state.error ? false : 10_000),
      staleTime: 5_000,
    }),
};

// --- writes ---------------------------------------------------------------------------------

/** The body of POST /api/v1/services and PATCH /api/v1/services/<name>. */
export interface ServiceInput {
  name?: string;
  tenant?: string;
  description?: string;
  healthPath?: string;
  checkIntervalSeconds?: number;
  timeoutMs?: number;
  failureThreshold?: number;
  successThreshold?: number;
  latencyBudgetMs?: number;
  gatewayTimeoutMs?: number;
  forwardIdentity?: boolean;
  breakerFailureRatePct?: number;
  breakerMinCalls?: number;
  breakerConsecutiveFailures?: number;
  breakerWindowSeconds?: number;
  breakerOpenSeconds?: number;
  breakerHalfOpenCalls?: number;
  maintenance?: boolean;
  access?: { roles?: GatewayRole[]; services?: string[] };
  instances?: { id?: string; url: string; region?: string; weight?: number; enabled?: boolean }[];
}

export const registryApi = {
  async setInstanceEnabled(service: string, tenant: string | null, instanceId: string, enabled: boolean) {
    const r = await send(
      "PATCH",
      withTenant(`${servicePath(service)}/instances/${encodeURIComponent(instanceId)}`, tenant),
      { json: { enabled } },
    );
    return parseAnswer(r.status, r.text, serviceViewSchema);
  },

  async createService(input: ServiceInput) {
    const r = await send("POST", "/api/v1/services", { json: input });
    return parseAnswer(r.status, r.text, serviceWriteSchema);
  },

  async updateService(name: string, tenant: string | null, input: ServiceInput) {
    const r = await send("PATCH", withTenant(servicePath(name), tenant), { json: input });
    return parseAnswer(r.status, r.text, serviceWriteSchema);
  },

  async deleteService(name: string, tenant: string | null): Promise<void> {
    await send("DELETE", withTenant(servicePath(name), tenant));
  },

  async probe(input: { url: string; healthPath?: string; timeoutMs?: number; latencyBudgetMs?: number }) {
    const r = await send("POST", "/api/v1/probe", { json: input });
    return parseAnswer(r.status, r.text, probeResultSchema);
  },

  async importRegistry(yaml: string, opts: { dryRun: boolean; prune: boolean; tenant?: string | null }) {
    const qs = new URLSearchParams();
    if (opts.dryRun) qs.set("dry_run", "1");
    if (opts.prune) qs.set("prune", "1");
    if (opts.tenant) qs.set("tenant", opts.tenant);
    const q = qs.toString();
    const r = await send("POST", `/api/v1/registry/import${q ? `?${q}` : ""}`, {
      text: yaml,
      contentType: "text/yaml",
    });
    return parseAnswer(r.status, r.text, importResultSchema);
  },

  async setDemoMode(instanceId: string, mode: DemoMode): Promise<void> {
    await send("POST", `/api/v1/demo/instances/${encodeURIComponent(instanceId)}/mode`, { json: { mode } });
  },
};
