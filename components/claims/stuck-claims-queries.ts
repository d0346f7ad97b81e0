import { queryOptions } from "@tanstack/react-query";
import { z } from "zod";
import { getJson, retryUnlessClientError } from "../queries/api-error";

/**
 * The stuck-claims watchdog for the browser: the shape of `GET /api/v1/claims/stuck` and its one
 * React Query factory (operators' pages refresh it every 30 s).
 */
export const STUCK_POLL_MS = 30_000;

export const stuckClaimSchema = z.object({
  claim_id: z.string(),
  tenant: z.string().nullish(),
  status: z.string(),
  waitingMinutes: z.number(),
  updated_at: z.string(),
});
export type StuckClaim = z.infer<typeof stuckClaimSchema>;

export const reviewerSchema = z.object({
  service: z.string(),
  tenant: z.string(),
  status: z.enum(["green", "yellow", "red", "unknown"]).catch("unknown"),
  statusReason: z.string().nullish(),
  statusChangedAt: z.string().nullish(),
  maintenance: z.boolean().default(false),
  instances: z.object({ total: z.number(), enabled: z.number(), healthy: z.number() }),
  circuits: z.object({ open: z.number(), halfOpen: z.number(), forced: z.number() }),
  breaker: z.enum(["closed", "half_open", "open"]).catch("closed"),
  queue: z.object({
    queue: z.string(),
    depth: z.number(),
    delayed: z.number().default(0),
    inFlight: z.number(),
    dead: z.number(),
    oldestReadyAgeSeconds: z.number().nullish(),
    lastLeaseAt: z.string().nullish(),
  }),
  consumerLastSeenAt: z.string().nullish(),
});
export type Reviewer = z.infer<typeof reviewerSchema>;

export const stuckClaimsSchema = z.object({
  items: z.array(stuckClaimSchema),
  total: z.number(),
  threshold: z.number(),
  reviewer: reviewerSchema.nullable(),
});
export type StuckClaims = z.infer<typeof stuckClaimsSchema>;

export const stuckClaimQueries = {
  all: () => ["claims", "stuck"] as const,
  /** `tenant`: the agency a global admin picked (null = their all-agencies view, or an operator's own) */
  list: (tenant: string | null) =>
    queryOptions({
      queryKey: [...stuckClaimQueries.all(), tenant ?? "*"] as const,
      queryFn: ({ signal }) => {
        const qs = new URLSearchParams();
        if (tenant) qs.set("tenant", tenant);
        const q = qs.toString();
        return getJson(`/api/v1/claims/stuck${q ? `?${q}` : ""}`, stuckClaimsSchema, signal);
      },
      refetchInterval: STUCK_POLL_MS,
      retry: (n: number, e: Error) => retryUnlessClientError(n, e),
    }),
};

/** "45 min", "3 h 5 min", "2 d 4 h". */
export function formatWaiting(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  if (h < 48) return minutes % 60 ? `${h} h ${minutes % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}
