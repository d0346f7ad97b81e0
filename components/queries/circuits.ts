import { infiniteQueryOptions, keepPreviousData, queryOptions } from "@tanstack/react-query";
import { z } from "zod";
import { getJson, postJson } from "./api-error";
import { healthStatuses, withTenant } from "./registry";

/**
 * The circuit-breaker domain for the browser: the shapes of `GET /api/v1/circuits`,
 * `GET /api/v1/services/<name>/circuits` and the force answer, the one React Query factory the
 * Circuits page and the service page use (keys, fetchers, the 1-second cadence), and the write.
 */

export const circuitStates = ["open", "half_open", "closed"] as const;
export type CircuitState = (typeof circuitStates)[number];

/** The Circuits page's state filter: a state, or every breaker an operator has forced. */
export const circuitFilters = ["open", "half_open", "forced", "closed"] as const;
export type CircuitFilter = (typeof circuitFilters)[number];

export function isCircuitFilter(s: unknown): s is CircuitFilter {
  return typeof s === "string" && (circuitFilters as readonly string[]).includes(s);
}

export type ForceAction = "open" | "closed" | "release";

const count = z.number().int().nonnegative().catch(0);
const forcedSchema = z.enum(["open", "closed"]).nullish().catch(null);

export const replicaCircuitSchema = z.object({
  replicaId: z.string(),
  hostname: z.string(),
  /** null: the replica holds no state for this instance yet */
  state: z.enum(circuitStates).nullish().catch(null),
  calls: count,
  failureRatePct: z.number().nullish(),
  consecutiveFailures: count,
  outstanding: count,
  lastSeenAt: z.string(),
});
export type ReplicaCircuit = z.infer<typeof replicaCircuitSchema>;

export const circuitViewSchema = z.object({
  instanceId: z.string(),
  service: z.string(),
  tenant: z.string(),
  url: z.string(),
  region: z.string(),
  enabled: z.boolean(),
  // An unknown state from a newer server reads as "unknown" health / "closed" rather than breaking the page.
  health: z.enum(healthStatuses).catch("unknown"),
  state: z.enum(circuitStates).catch("closed"),
  forced: forcedSchema,
  forcedBy: z.string().nullish(),
  forcedAt: z.string().nullish(),
  reason: z.string().nullish(),
  since: z.string(),
  openUntil: z.string().nullish(),
  failureRatePct: z.number().nullish(),
  windowCalls: z.number().nullish(),
  tripStreak: count,
  tripsLastHour: count,
  changedBy: z.string().nullish(),
  replicas: z.array(replicaCircuitSchema).catch([]),
});
export type CircuitView = z.infer<typeof circuitViewSchema>;

export const circuitSummarySchema = z.object({
  total: count,
  open: count,
  halfOpen: count,
  closed: count,
  forced: count,
  tripsLastHour: count,
});
export type CircuitSummary = z.infer<typeof circuitSummarySchema>;

export const circuitPageSchema = z.object({
  items: z.array(circuitViewSchema),
  nextCursor: z.string().nullish(),
  summary: circuitSummarySchema,
  services: z.array(z.string()).catch([]),
});
export type CircuitPage = z.infer<typeof circuitPageSchema>;

/** A service's breakers, with the same summary its board tile shows. */
export const serviceCircuitsSchema = z.object({
  items: z.array(circuitViewSchema),
  circuits: z.object({ open: count, halfOpen: count, forced: count }).catch({ open: 0, halfOpen: 0, forced: 0 }),
  failover: z.boolean().catch(false),
  activeRegion: z.string().nullish(),
  failoverReason: z.string().nullish(),
});
export type ServiceCircuits = z.infer<typeof serviceCircuitsSchema>;

export interface CircuitFilters {
  /** a global admin's choice of agency; null = every agency they can see */
  tenant: string | null;
  state: CircuitFilter | null;
  /** a service name; null = every service */
  service: string | null;
}

/**
 * Breakers change within a second of a trip (the gateway NOTIFYs every replica), so the pages
 * that show them ask every second — only while the tab is visible.
 */
export const CIRCUITS_POLL_MS = 1_000;
export const CIRCUITS_PAGE_SIZE = 100;

export const circuitQueries = {
  /** Invalidate this to refresh every breaker view (after a force). */
  all: () => ["circuits"] as const,

  list: (filters: CircuitFilters) =>
    infiniteQueryOptions({
      queryKey: [...circuitQueries.all(), "list", filters] as const,
      queryFn: ({ pageParam, signal }) => {
        const qs = new URLSearchParams({ limit: String(CIRCUITS_PAGE_SIZE) });
        if (filters.state) qs.set("state", filters.state);
        if (filters.service) qs.set("service", filters.service);
        if (pageParam) qs.set("cursor", pageParam);
        return getJson(withTenant("/api/v1/circuits", filters.tenant, qs), circuitPageSchema, signal);
      },
      initialPageParam: null as string | null,
      getNextPageParam: (last: CircuitPage) => last.nextCursor ?? undefined,
      refetchInterval: CIRCUITS_POLL_MS,
      refetchIntervalInBackground: false,
      staleTime: 500,
      placeholderData: keepPreviousData,
    }),

  service: (name: string, tenant: string | null) =>
    queryOptions({
      queryKey: [...circuitQueries.all(), "service", tenant, name] as const,
      queryFn: ({ signal }) =>
        getJson(
          withTenant(`/api/v1/services/${encodeURIComponent(name)}/circuits`, tenant),
          serviceCircuitsSchema,
          signal,
        ),
      refetchInterval: CIRCUITS_POLL_MS,
      refetchIntervalInBackground: false,
      staleTime: 500,
    }),
};

export const circuitApi = {
  /** Forces a breaker open or closed, or releases it; answers the breaker as it now reads. */
  force(instanceId: string, state: ForceAction): Promise<CircuitView> {
    return postJson(`/api/v1/circuits/${encodeURIComponent(instanceId)}/force`, { state }, circuitViewSchema);
  },
};
