"use client";

import { DataTable } from "./data-table";
import { LoadMoreButton } from "./load-more-button";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { StuckBadge } from "./claims/stuck-badge";
import { stuckClaimQueries } from "./claims/stuck-claims-queries";
import Link from "next/link";
import { formatBytes, formatDateTime } from "./format";
import { LoadError, LoadingStatus } from "./query-states";
import { claimQueries } from "./queries/claims";
import { StatusBadge } from "./status-badge";

/**
 * A claims list, newest first, 20 at a time: "My claims" for a veteran, or — with `flagStuck`, on
 * operators' pages — the agency's claims with the watchdog's "Stuck" badge on every claim that
 * has waited longer than HMS_STUCK_CLAIM_MINUTES.
 */
export function ClaimsTable({
  labelledBy,
  flagStuck = false,
  tenant = null,
}: {
  labelledBy?: string;
  /** operators and admins only (the watchdog endpoint refuses veterans) */
  flagStuck?: boolean;
  /** the agency a global admin picked, for the stuck flags */
  tenant?: string | null;
}) {
  const query = useInfiniteQuery(claimQueries.list());
  const stuck = useQuery({ ...stuckClaimQueries.list(tenant), enabled: flagStuck });
  const stuckById = new Map((stuck.data?.items ?? []).map((s) => [s.claim_id, s.waitingMinutes]));

  if (query.isPending) {
    return <LoadingStatus text="Loading your claims…" />;
  }

  if (!query.data) {
    return (
      <LoadError
        what="your claims"
        error={query.error}
        retry={() => query.refetch()}
        callbackPath="/portal"
        fallback="Please try again in a moment."
      />
    );
  }

  const claims = query.data.pages.flatMap((p) => p.items);

  if (claims.length === 0) {
    return flagStuck ? (
      <div className="rounded-md border border-line bg-surface p-6 text-center">
        <p className="text-lg font-semibold">No claims yet.</p>
        <p className="mt-1 text-muted">Claims appear here as veterans of this agency upload them.</p>
      </div>
    ) : (
      <div className="rounded-md border border-line bg-surface p-6 text-center">
        <p className="text-lg font-semibold">No claims yet — drop your claim PDF above to start.</p>
        <p className="mt-1 text-muted">Once you upload a document, its claim number and status appear here.</p>
      </div>
    );
  }

  return (
    <div className="space-y-4">
      <DataTable
        labelledBy={labelledBy}
        dense={false}
        columns={[
          { key: "claim", label: "Claim" },
          { key: "status", label: "Status" },
          { key: "submitted", label: "Submitted" },
          { key: "pages", label: "Pages", numeric: true },
          { key: "size", label: "Size", numeric: true },
        ]}
      >
        {claims.map((c) => (
          <tr key={c.claim_id} className="border-t border-line">
            <th scope="row" className="px-4 py-3 font-normal">
              {flagStuck ? (
                // Operators' view: the claim page is the veteran's portal.
                <span className="font-mono font-semibold">{c.claim_id}</span>
              ) : (
                <Link href={`/portal/claims/${encodeURIComponent(c.claim_id)}`} className="font-mono font-semibold">
                  {c.claim_id}
                </Link>
              )}
            </th>
            <td className="px-4 py-3">
              <span className="flex flex-wrap items-center gap-2">
                <StatusBadge status={c.status} />
                {stuckById.has(c.claim_id) && <StuckBadge waitingMinutes={stuckById.get(c.claim_id)!} />}
              </span>
            </td>
            <td className="px-4 py-3 whitespace-nowrap">
              <time dateTime={c.createdAt}>{formatDateTime(c.createdAt)}</time>
            </td>
            <td className="px-4 py-3 text-right tabular-nums">{c.document?.pageCount ?? "—"}</td>
            <td className="px-4 py-3 text-right whitespace-nowrap tabular-nums">
              {c.document ? formatBytes(c.document.sizeBytes) : "—"}
            </td>
          </tr>
        ))}
      </DataTable>

      <div className="flex flex-wrap items-center gap-4">
        <LoadMoreButton query={query} label="Load more claims" />
        <p className="text-sm text-muted" role="status">
          Showing {claims.length} {claims.length === 1 ? "claim" : "claims"}
          {query.hasNextPage ? "" : " — that’s all of them"}.
          {query.isFetchNextPageError ? " We couldn’t load more; please try again." : ""}
        </p>
      </div>
    </div>
  );
}
