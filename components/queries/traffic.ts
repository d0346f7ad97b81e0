import { keepPreviousData, queryOptions } from "@tanstack/react-query";
import { z } from "zod";
import { getJson } from "./api-error";

/**
 * The traffic domain for the browser: the response shape of GET /api/v1/traffic and the one
 * React Query factory (key, fetcher, refresh cadence) the Traffic page uses.
 */

export const trafficRanges = ["15m", "1h", "24h", "7d"] as const;
export type TrafficRange = (typeof trafficRanges)[number];

export function isTrafficRange(s: unknown): s is TrafficRange {
  return typeof s === "string" && (trafficRanges as readonly string[]).includes(s);
}

const num = z.number().catch(0);
const ms = z.number().nullable().catch(null);

const counts = { c2xx: num, c3xx: num, c4xx: num, c5xx: num, rateLimited: num };

export const trafficPointSchema = z.object({
  at: z.string(),
  partial: z.boolean().catch(false),
  ...counts,
  p50Ms: ms,
  p95Ms: ms,
});
export type TrafficPoint = z.infer<typeof trafficPointSchema>;

export const trafficTotalsSchema = z.object({ requests: num, ...counts, avgMs: ms, p50Ms: ms, p95Ms: ms });
export type TrafficTotals = z.infer<typeof trafficTotalsSchema>;

export const tenantTrafficSchema = z.object({
  tenant: z.string(),
  totals: trafficTotalsSchema,
  services: z.array(trafficTotalsSchema.extend({ service: z.string() })).catch([]),
  points: z.array(trafficPointSchema),
});
export type TenantTraffic = z.infer<typeof tenantTrafficSchema>;

export const trafficSeriesSchema = z.object({
  range: z.enum(trafficRanges),
  bucketSeconds: z.number(),
  from: z.string(),
  to: z.string(),
  tenants: z.array(tenantTrafficSchema),
});
export type TrafficSeries = z.infer<typeof trafficSeriesSchema>;

export interface TrafficFilters {
  range: TrafficRange;
  /** a global admin's choice of agency; null = every agency they can see */
  tenant: string | null;
  /** one service's traffic ("intake" = claim uploads); null = all */
  service: string | null;
}

/**
 * Roll-ups are written every 5 s, so the per-minute ranges refresh every 5 s. The 24-hour chart's
 * buckets are 15 minutes wide (10 s is plenty); the 7-day chart's are an hour wide and its query
 * folds a week of minutes, so it refreshes every 30 s.
 */
export const TRAFFIC_POLL_MS: Record<TrafficRange, number> = { "15m": 5_000, "1h": 5_000, "24h": 10_000, "7d": 30_000 };

export function trafficUrl(f: TrafficFilters): string {
  const qs = new URLSearchParams({ range: f.range });
  if (f.tenant) qs.set("tenant", f.tenant);
  if (f.service) qs.set("service", f.service);
  return `/api/v1/traffic?${qs.toString()}`;
}

export const trafficQueries = {
  all: () => ["traffic"] as const,

  series: (f: TrafficFilters) =>
    queryOptions({
      queryKey: [...trafficQueries.all(), f.range, f.tenant, f.service] as const,
      queryFn: ({ signal }) => getJson(trafficUrl(f), trafficSeriesSchema, signal),
      refetchInterval: TRAFFIC_POLL_MS[f.range],
      refetchIntervalInBackground: false,
      // Switching range or agency keeps the old charts (dimmed) until the new ones arrive.
      placeholderData: keepPreviousData,
    }),
};
