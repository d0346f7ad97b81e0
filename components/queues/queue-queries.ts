import { infiniteQueryOptions, keepPreviousData, queryOptions } from "@tanstack/react-query";
import { z } from "zod";
import { apiErrorFrom, ApiError, getJson, retryUnlessClientError } from "../queries/api-error";

/**
 * The queues domain for the browser: the shapes of `GET /api/v1/queues`,
 * `GET /api/v1/queues/<queue>/dead` and `GET /api/v1/services/<name>/tokens`, the one React Query
 * factory the Queues page and the service-tokens panel use (keys, fetchers, the 2-second cadence),
 * and the writes (requeue, discard, issue and revoke a token).
 */
export const QUEUES_POLL_MS = 2_000;

export const queueStatsSchema = z.object({
  tenant: z.string(),
  queue: z.string(),
  depth: z.number(),
  delayed: z.number(),
  inFlight: z.number(),
  dead: z.number(),
  doneLastHour: z.number(),
  oldestReadyAgeSeconds: z.number().nullable(),
  lastLeaseAt: z.string().nullable(),
  maxAttempts: z.number(),
  visibilitySeconds: z.number(),
});
export type QueueStats = z.infer<typeof queueStatsSchema>;
const statsPage = z.object({ items: z.array(queueStatsSchema), nextCursor: z.null() });

export const deadLetterSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  queue: z.string(),
  attempts: z.number(),
  maxAttempts: z.number(),
  lastError: z.string().nullable(),
  diedAt: z.string(),
  createdAt: z.string(),
  payloadPreview: z.string(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;
const deadPage = z.object({ items: z.array(deadLetterSchema), nextCursor: z.string().nullable() });
export type DeadLetterPage = z.infer<typeof deadPage>;

export const serviceTokenSchema = z.object({
  id: z.string(),
  prefix: z.string(),
  queues: z.array(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type ServiceToken = z.infer<typeof serviceTokenSchema>;
const tokenList = z.object({ items: z.array(serviceTokenSchema), nextCursor: z.null() });

export const issuedTokenSchema = z.object({
  token: z.string(),
  id: z.string(),
  prefix: z.string(),
  queues: z.array(z.string()),
});
export type IssuedToken = z.infer<typeof issuedTokenSchema>;

function withTenant(path: string, tenant: string | null | undefined, extra?: Record<string, string>): string {
  const qs = new URLSearchParams(extra);
  if (tenant) qs.set("tenant", tenant);
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/** Typed on Error (not unknown), so query.error stays an Error for LoadError. */
const retry4xx = (failureCount: number, error: Error) => retryUnlessClientError(failureCount, error);

const q = (name: string) => `/api/v1/queues/${encodeURIComponent(name)}`;
const tokensPath = (service: string) => `/api/v1/services/${encodeURIComponent(service)}/tokens`;

export const queueQueries = {
  all: () => ["queues"] as const,
  stats: (tenant: string | null) =>
    queryOptions({
      queryKey: [...queueQueries.all(), "stats", tenant ?? "*"] as const,
      queryFn: ({ signal }) => getJson(withTenant("/api/v1/queues", tenant), statsPage, signal),
      refetchInterval: QUEUES_POLL_MS,
      placeholderData: keepPreviousData,
      retry: retry4xx,
    }),
  dead: (queue: string, tenant: string | null) =>
    infiniteQueryOptions({
      queryKey: [...queueQueries.all(), "dead", tenant ?? "*", queue] as const,
      queryFn: ({ pageParam, signal }) =>
        getJson(withTenant(`${q(queue)}/dead`, tenant, pageParam ? { cursor: pageParam } : {}), deadPage, signal),
      initialPageParam: null as string | null,
      getNextPageParam: (last: DeadLetterPage) => last.nextCursor,
      refetchInterval: QUEUES_POLL_MS,
      retry: retry4xx,
    }),
  tokens: (service: string, tenant: string | null) =>
    queryOptions({
      queryKey: [...queueQueries.all(), "tokens", tenant ?? "", service] as const,
      queryFn: ({ signal }) => getJson(withTenant(tokensPath(service), tenant), tokenList, signal),
      retry: retry4xx,
    }),
};

async function write(method: "POST" | "DELETE", url: string, body?: unknown): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw apiErrorFrom(0, "");
  }
  const text = await res.text();
  if (!res.ok) throw apiErrorFrom(res.status, text);
  return text;
}

export const queueApi = {
  async requeue(m: Pick<DeadLetter, "queue" | "id" | "tenant">, tenantParam: string | null): Promise<void> {
    await write("POST", withTenant(`${q(m.queue)}/messages/${encodeURIComponent(m.id)}/requeue`, tenantParam));
  },
  async discard(m: Pick<DeadLetter, "queue" | "id" | "tenant">, tenantParam: string | null): Promise<void> {
    await write("DELETE", withTenant(`${q(m.queue)}/messages/${encodeURIComponent(m.id)}`, tenantParam));
  },
  async issueToken(service: string, tenant: string | null, queues: string[]): Promise<IssuedToken> {
    const text = await write("POST", withTenant(tokensPath(service), tenant), { queues });
    const parsed = issuedTokenSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new ApiError(201, "invalid_response", "The token was issued but its answer could not be read; revoke it.");
    }
    return parsed.data;
  },
  async revokeToken(service: string, tenant: string | null, id: string): Promise<void> {
    await write("DELETE", withTenant(`${tokensPath(service)}/${encodeURIComponent(id)}`, tenant));
  },
};

/** "12 s", "4 min", "2 h" for an age in seconds. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3_600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export const QUEUE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** "claim-review, audit.export" → ["audit.export", "claim-review"]; the bad names separately. */
export function parseQueueList(text: string): { queues: string[]; invalid: string[] } {
  const names = text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const invalid = names.filter((n) => !QUEUE_NAME.test(n));
  return { queues: [...new Set(names.filter((n) => QUEUE_NAME.test(n)))].sort(), invalid };
}
