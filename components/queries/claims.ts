import { infiniteQueryOptions, queryOptions } from "@tanstack/react-query";
import { z } from "zod";
import { getJson } from "./api-error";

/**
 * The claims domain for the browser: response shapes of /api/v1/claims and the one React Query
 * factory (keys, fetchers, refresh cadence) every claims component uses.
 */

export const claimStatuses = ["QUEUED", "IN_REVIEW", "NEEDS_INFO", "DECIDED"] as const;
export type ClaimStatus = (typeof claimStatuses)[number];

export function isClaimStatus(s: string): s is ClaimStatus {
  return (claimStatuses as readonly string[]).includes(s);
}

const documentFacts = z.object({
  sizeBytes: z.number(),
  sha256: z.string(),
  pageCount: z.number().nullish(),
});

export const claimSummarySchema = z.object({
  claim_id: z.string(),
  status: z.string(),
  createdAt: z.string(),
  updatedAt: z.string().nullish(),
  document: documentFacts.nullish(),
});
export type ClaimSummary = z.infer<typeof claimSummarySchema>;

export const claimPageSchema = z.object({
  items: z.array(claimSummarySchema),
  nextCursor: z.string().nullish(),
});
export type ClaimPage = z.infer<typeof claimPageSchema>;

export const timelineEntrySchema = z.object({
  status: z.string(),
  at: z.string(),
  note: z.string().nullish(),
  actor: z.string().nullish(),
});
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;

export const claimDetailSchema = z.object({
  claim_id: z.string(),
  status: z.string(),
  tenant: z.string().nullish(),
  veteran: z.string().nullish(),
  createdAt: z.string(),
  updatedAt: z.string().nullish(),
  document: documentFacts.extend({
    contentType: z.string().nullish(),
    riskyFeatures: z.array(z.string()).nullish(),
    url: z.string(),
  }),
  timeline: z.array(timelineEntrySchema),
});
export type ClaimDetail = z.infer<typeof claimDetailSchema>;

/** The 201 answer to an upload. */
export const claimCreatedSchema = z.object({ claim_id: z.string(), status: z.string() });
export type ClaimCreated = z.infer<typeof claimCreatedSchema>;

export const CLAIMS_PAGE_SIZE = 20;
/** How often an open claim page asks for news (live updates over SSE come later). */
export const CLAIM_POLL_MS = 10_000;
/** The "My claims" list refreshes less often; the claim page is where someone waits for news. */
export const CLAIM_LIST_POLL_MS = 30_000;

export const claimQueries = {
  /** Invalidate this to refresh everything claims-related (e.g. after an upload). */
  all: () => ["claims"] as const,

  list: () =>
    infiniteQueryOptions({
      queryKey: [...claimQueries.all(), "list"] as const,
      queryFn: ({ pageParam, signal }) => {
        const qs = new URLSearchParams({ limit: String(CLAIMS_PAGE_SIZE) });
        if (pageParam) qs.set("cursor", pageParam);
        return getJson(`/api/v1/claims?${qs.toString()}`, claimPageSchema, signal);
      },
      initialPageParam: null as string | null,
      getNextPageParam: (last: ClaimPage) => last.nextCursor ?? undefined,
      refetchInterval: CLAIM_LIST_POLL_MS,
    }),

  detail: (claimId: string) =>
    queryOptions({
      queryKey: [...claimQueries.all(), "detail", claimId] as const,
      queryFn: ({ signal }) => getJson(`/api/v1/claims/${encodeURIComponent(claimId)}`, claimDetailSchema, signal),
      // A decided claim no longer changes; stop asking.
      refetchInterval: (query) => (query.state.data?.status === "DECIDED" ? false : CLAIM_POLL_MS),
    }),
};
