"use client";

import { useQuery } from "@tanstack/react-query";
import { Ago } from "../board/ago";
import { HealthBadge } from "../board/health-status";
import { CircuitBadge } from "../circuits/circuit-state";
import { DataTable } from "../data-table";
import { LoadError, LoadingStatus } from "../query-states";
import { StatusBadge } from "../status-badge";
import { formatWaiting, stuckClaimQueries, type Reviewer } from "./stuck-claims-queries";

/**
 * Operators' "Stuck claims" panel: claims QUEUED or IN_REVIEW for longer than the watchdog's
 * threshold, oldest first, next to the health of the agency's `claim-review` service and queue —
 * so the question "is review stuck, and why?" is answered in one place.
 */
function ReviewerHealth({ reviewer }: { reviewer: Reviewer }) {
  const q = reviewer.queue;
  return (
    <div className="space-y-3 rounded-md border border-line bg-surface p-4">
      <div className="flex flex-wrap items-center gap-3">
        <h3 className="font-bold">
          Reviewer service <span className="font-mono">{reviewer.service}</span>
        </h3>
        <HealthBadge status={reviewer.status} size="sm" />
        <CircuitBadge state={reviewer.breaker} size="sm" />
        {reviewer.maintenance && <span className="text-sm font-semibold">In maintenance</span>}
      </div>
      {reviewer.statusReason && <p className="text-sm">{reviewer.statusReason}</p>}
      <dl className="grid grid-cols-2 gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
        <div>
          <dt className="text-muted">Instances healthy</dt>
          <dd className="font-semibold tabular-nums">
            {reviewer.instances.healthy} of {reviewer.instances.enabled}
          </dd>
        </div>
        <div>
          <dt className="text-muted">Waiting in queue</dt>
          <dd className="font-semibold tabular-nums">{q.depth}</dd>
        </div>
        <div>
          <dt className="text-muted">Being reviewed</dt>
          <dd className="font-semibold tabular-nums">{q.inFlight}</dd>
        </div>
        <div>
          <dt className="text-muted">Dead letters</dt>
          <dd className={`font-semibold tabular-nums ${q.dead > 0 ? "text-error-dark" : ""}`}>{q.dead}</dd>
        </div>
        <div>
          <dt className="text-muted">Last lease</dt>
          <dd>
            <Ago iso={q.lastLeaseAt} never="never" />
          </dd>
        </div>
        <div>
          <dt className="text-muted">Reviewer last seen</dt>
          <dd>
            <Ago iso={reviewer.consumerLastSeenAt} never="never" />
          </dd>
        </div>
        {reviewer.circuits.open + reviewer.circuits.halfOpen > 0 && (
          <div>
            <dt className="text-muted">Breakers</dt>
            <dd className="font-semibold">
              {reviewer.circuits.open} open, {reviewer.circuits.halfOpen} half-open
            </dd>
          </div>
        )}
      </dl>
    </div>
  );
}

export function StuckClaimsPanel({
  tenant = null,
  labelledBy,
  callbackPath = "/board",
}: {
  /** the agency a global admin picked; operators see their own */
  tenant?: string | null;
  labelledBy?: string;
  /** where "Sign in again" returns to */
  callbackPath?: string;
}) {
  const query = useQuery(stuckClaimQueries.list(tenant));

  if (query.isPending) return <LoadingStatus text="Checking for stuck claims…" />;
  if (!query.data) {
    return (
      <LoadError what="stuck claims" error={query.error} retry={() => query.refetch()} callbackPath={callbackPath} />
    );
  }

  const { items, total, threshold, reviewer } = query.data;
  const showTenant = items.some((i) => i.tenant) && tenant === null && reviewer === null;
  return (
    <div className="space-y-4">
      <p className="text-sm text-muted">
        Claims that have been queued or in review for more than {formatWaiting(threshold)} without moving.
      </p>
      {reviewer ? (
        <ReviewerHealth reviewer={reviewer} />
      ) : (
        tenant !== null && (
          <p className="rounded-md border border-warning bg-warning-lighter p-3 text-sm">
            No <span className="font-mono">claim-review</span> service is registered for this agency, so nothing reviews
            its claims. Register one and give it a service token.
          </p>
        )
      )}
      {items.length === 0 ? (
        <p className="rounded-md border border-line bg-surface p-4">
          <span aria-hidden="true" className="mr-1 font-bold text-success-dark">
            ✓
          </span>
          No stuck claims: every open claim moved within the last {formatWaiting(threshold)}.
        </p>
      ) : (
        <>
          <DataTable
            labelledBy={labelledBy}
            columns={[
              { key: "claim", label: "Claim" },
              showTenant && { key: "tenant", label: "Agency" },
              { key: "status", label: "Status" },
              { key: "waiting", label: "Waiting", numeric: true },
              { key: "since", label: "Last change" },
            ]}
          >
            {items.map((c) => (
              <tr key={c.claim_id} className="border-t border-line">
                <th scope="row" className="px-3 py-2 font-mono font-semibold">
                  {c.claim_id}
                </th>
                {showTenant && <td className="px-3 py-2">{c.tenant}</td>}
                <td className="px-3 py-2">
                  <StatusBadge status={c.status} />
                </td>
                <td className="px-3 py-2 text-right font-semibold whitespace-nowrap text-error-dark tabular-nums">
                  {formatWaiting(c.waitingMinutes)}
                </td>
                <td className="px-3 py-2 whitespace-nowrap">
                  <Ago iso={c.updated_at} />
                </td>
              </tr>
            ))}
          </DataTable>
          <p role="status" className="text-sm text-muted">
            {total === 1 ? "1 stuck claim" : `${total} stuck claims`}
            {total > items.length ? `; showing the ${items.length} oldest.` : "."}
          </p>
        </>
      )}
    </div>
  );
}
