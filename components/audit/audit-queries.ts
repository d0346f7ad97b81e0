import { infiniteQueryOptions, keepPreviousData, queryOptions } from "@tanstack/react-query";
import { z } from "zod";
import { getJson } from "../queries/api-error";
import { withTenant } from "../queries/registry";

/**
 * The audit domain for the browser: the shapes of `GET /api/v1/audit/verify` and
 * `GET /api/v1/audit/events`, the React Query factory the Audit page uses, and the CSV link.
 */

export const breakReasons = ["event_changed", "event_missing", "seq_gap", "prev_hash_mismatch", "unknown_key"] as const;
export type BreakReason = (typeof breakReasons)[number];

export const chainBreakSchema = z.object({
  seq: z.string(),
  eventId: z.string().nullish(),
  // A reason a newer server invented still shows as a break, in general words.
  reason: z.string(),
  at: z.string().nullish(),
});
export type ChainBreak = z.infer<typeof chainBreakSchema>;

export const verifySchema = z.object({
  ok: z.boolean(),
  checked: z.number(),
  brokenAt: chainBreakSchema.nullable(),
  unsealed: z.number().catch(0),
  headSeq: z.string().nullish(),
  headHash: z.string().nullish(),
  verifiedAt: z.string().nullish(),
  durationMs: z.number().nullish(),
  tenant: z.string().nullish(),
});
export type VerifyAnswer = z.infer<typeof verifySchema>;

export const auditEventSchema = z.object({
  id: z.string(),
  at: z.string(),
  tenant: z.string().nullish(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullish(),
  outcome: z.string(),
  traceId: z.string().nullish(),
  ip: z.string().nullish(),
  data: z.unknown().optional(),
  seq: z.string().nullish(),
});
export type AuditEvent = z.infer<typeof auditEventSchema>;

export const auditPageSchema = z.object({
  items: z.array(auditEventSchema),
  nextCursor: z.string().nullish(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

export interface AuditFilters {
  /** a global admin's choice of agency; null = every agency (and the global chain) */
  tenant: string | null;
  actor: string | null;
  action: string | null;
  target: string | null;
  /** ISO 8601 instants */
  from: string | null;
  to: string | null;
  /** start the list at this event id (the chain banner's "show this event") */
  event: string | null;
}

export const emptyAuditFilters: AuditFilters = {
  tenant: null,
  actor: null,
  action: null,
  target: null,
  from: null,
  to: null,
  event: null,
};

export const AUDIT_PAGE_SIZE = 50;

/** The filters as query parameters (tenant included), without the paging ones. */
export function auditParams(f: AuditFilters): URLSearchParams {
  const qs = new URLSearchParams();
  for (const key of ["actor", "action", "target", "from", "to", "event"] as const) {
    const v = f[key];
    if (v) qs.set(key, v);
  }
  return qs;
}

/** The "Export CSV" link: the same filters, every page. */
export function auditCsvHref(f: AuditFilters): string {
  return withTenant("/api/v1/audit/events.csv", f.tenant, auditParams(f));
}

export const auditQueries = {
  all: () => ["audit"] as const,

  /** Verifying reads the whole chain: once per visit and on request, not on every focus. */
  verify: (tenant: string | null) =>
    queryOptions({
      queryKey: [...auditQueries.all(), "verify", tenant] as const,
      queryFn: ({ signal }) => getJson(withTenant("/api/v1/audit/verify", tenant), verifySchema, signal),
      staleTime: 5 * 60_000,
      refetchOnWindowFocus: false,
    }),

  events: (f: AuditFilters) =>
    infiniteQueryOptions({
      queryKey: [...auditQueries.all(), "events", f] as const,
      queryFn: ({ pageParam, signal }) => {
        const qs = auditParams(f);
        qs.set("limit", String(AUDIT_PAGE_SIZE));
        if (pageParam) qs.set("cursor", pageParam);
        return getJson(withTenant("/api/v1/audit/events", f.tenant, qs), auditPageSchema, signal);
      },
      initialPageParam: null as string | null,
      getNextPageParam: (last: AuditPage) => last.nextCursor ?? undefined,
      placeholderData: keepPreviousData,
    }),
};

/** What a break means, in words for the banner. */
export function breakWords(b: ChainBreak): string {
  switch (b.reason as BreakReason) {
    case "event_changed":
      return "The event no longer matches its seal: it was changed after it was recorded.";
    case "event_missing":
      return "The sealed event is gone: it was deleted after it was recorded.";
    case "seq_gap":
      return `Seal number ${b.seq} is missing: a seal was deleted.`;
    case "prev_hash_mismatch":
      return "This seal does not link to the one before it: seals were removed, reordered or rewritten.";
    case "unknown_key":
      return "This seal was made with a key this server does not have. After a key rotation, list the old key in HMS_AUDIT_PREVIOUS_KEYS.";
    default:
      return `The chain does not verify here (${b.reason}).`;
  }
}
