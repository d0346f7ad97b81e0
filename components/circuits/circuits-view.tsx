"use client";

import { useInfiniteQuery, type InfiniteData, type UseInfiniteQueryResult } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";
import { Fragment, useId, useMemo, useState } from "react";
import { Ago, Since } from "../board/ago";
import { TenantPicker } from "../board/tenant-picker";
import { DataTable } from "../data-table";
import { FilterSelect } from "../filter-select";
import { LoadMoreButton } from "../load-more-button";
import { LoadError, LoadingStatus } from "../query-states";
import { replaceAddress } from "../replace-address";
import {
  CIRCUITS_POLL_MS,
  circuitQueries,
  isCircuitFilter,
  type CircuitFilter,
  type CircuitFilters,
  type CircuitPage,
  type CircuitSummary,
  type CircuitView,
} from "../queries/circuits";
import { servicePageHref } from "../queries/registry";
import { formatAbsolute } from "../board/relative-time";
import { CircuitBadge, ForcedMarker, OpenUntil, circuitStyles, failureRateText } from "./circuit-state";
import { ForceButtons, useForceCircuit } from "./force-circuit";
import { ReplicaDetail, convergence, convergenceWords } from "./replica-detail";

/** Filters live in the address (`?state=open&service=pay`), replaced in place as on the board. */
function filtersFrom(params: URLSearchParams, canPickTenant: boolean): CircuitFilters {
  const state = params.get("state");
  return {
    tenant: canPickTenant ? params.get("tenant") || null : null,
    state: isCircuitFilter(state) ? state : null,
    service: params.get("service")?.slice(0, 100) || null,
  };
}

const filterButtons: { filter: CircuitFilter; label: string; key: keyof CircuitSummary; tone: string }[] = [
  { filter: "open", label: "Open", key: "open", tone: "text-error-dark" },
  { filter: "half_open", label: "Half-open", key: "halfOpen", tone: "text-ink" },
  { filter: "forced", label: "Forced", key: "forced", tone: "text-primary-darker" },
  { filter: "closed", label: "Closed", key: "closed", tone: "text-success-dark" },
];

function summaryWords(s: CircuitSummary): string {
  if (s.total === 0) return "No breakers.";
  const parts = [`${s.open} open`, `${s.halfOpen} half-open`, `${s.forced} forced`, `${s.closed} closed`];
  return `${parts.join(", ")}; ${s.tripsLastHour} ${s.tripsLastHour === 1 ? "trip" : "trips"} in the last hour.`;
}

/**
 * The Circuits page: every breaker the caller may see, worst first (open, half-open, forced,
 * closed), live every second. Per row: state, failure rate, since when, the countdown to trial
 * calls, trips in the last hour, who forced it, force / release, and each gateway replica's own
 * view (to see them converge).
 */
export function CircuitsView({
  canPickTenant,
  tenants,
  canRegister,
  scopeLabel,
}: {
  canPickTenant: boolean;
  tenants: readonly string[];
  canRegister: boolean;
  scopeLabel: string | null;
}) {
  const pathname = usePathname();
  const params = useSearchParams();
  const [filters, setFilters] = useState(() => filtersFrom(new URLSearchParams(params.toString()), canPickTenant));

  function update(next: Partial<CircuitFilters>) {
    const merged = { ...filters, ...next };
    setFilters(merged);
    replaceAddress(pathname, { tenant: merged.tenant, state: merged.state, service: merged.service });
  }

  const query = useInfiniteQuery(circuitQueries.list(filters));
  const first = query.data?.pages[0];
  const items = useMemo(() => query.data?.pages.flatMap((p) => p.items) ?? [], [query.data]);
  const tenantOptions = useMemo(() => {
    const all = new Set(tenants);
    for (const i of items) all.add(i.tenant);
    return [...all].sort();
  }, [tenants, items]);
  const serviceOptions = useMemo(() => {
    const all = new Set(first?.services ?? []);
    if (filters.service) all.add(filters.service);
    return [...all].sort();
  }, [first, filters.service]);

  const filtered = filters.state !== null || filters.service !== null;
  const scope = scopeLabel ?? filters.tenant;

  return (
    <div className="space-y-6">
      <div className="space-y-1">
        <h1 className="text-4xl font-bold tracking-tight">Circuit breakers</h1>
        <p className="text-muted">
          {scope ? (
            <>
              Every instance of <strong className="text-ink">{scope}</strong>
            </>
          ) : (
            "Every instance of every agency"
          )}
          , worst first. <LiveNote updatedAt={query.dataUpdatedAt} failing={query.isRefetchError} />
        </p>
      </div>

      {first && (
        <>
          <div role="group" aria-label="Filter by breaker state" className="flex flex-wrap gap-2">
            <SummaryButton
              label="All breakers"
              count={first.summary.total}
              pressed={filters.state === null}
              onClick={() => update({ state: null })}
            />
            {filterButtons.map((b) => (
              <SummaryButton
                key={b.filter}
                label={b.label}
                count={first.summary[b.key]}
                tone={b.tone}
                pressed={filters.state === b.filter}
                onClick={() => update({ state: filters.state === b.filter ? null : b.filter })}
              />
            ))}
            <div className="flex min-w-[7.5rem] flex-1 flex-col items-start gap-0.5 rounded-md border border-dashed border-line px-3 py-2">
              <span className="text-sm font-semibold text-muted">Trips in the last hour</span>
              <span className="text-3xl font-bold tabular-nums">{first.summary.tripsLastHour}</span>
            </div>
          </div>
          <p role="status" className="sr-only">
            {summaryWords(first.summary)}
          </p>
        </>
      )}

      <div className="flex flex-wrap items-end gap-4">
        {canPickTenant && (
          <TenantPicker
            tenants={tenantOptions}
            value={filters.tenant}
            onChange={(tenant) => update({ tenant, service: null })}
          />
        )}
        <FilterSelect
          label="Service"
          allLabel="All services"
          options={serviceOptions}
          value={filters.service}
          onChange={(service) => update({ service })}
        />
        {filtered && (
          <button type="button" className="btn btn-secondary" onClick={() => update({ state: null, service: null })}>
            Clear filters
          </button>
        )}
      </div>

      <CircuitsBody
        query={query}
        items={items}
        filtered={filtered}
        canRegister={canRegister}
        showTenant={canPickTenant && !filters.tenant}
        onClear={() => update({ state: null, service: null })}
      />
    </div>
  );
}

function SummaryButton({
  label,
  count,
  pressed,
  tone = "text-ink",
  onClick,
}: {
  label: string;
  count: number;
  pressed: boolean;
  tone?: string;
  onClick: () => void;
}) {
  return (
    <button
      type="button"
      aria-pressed={pressed}
      aria-label={`${label}: ${count}`}
      onClick={onClick}
      className="flex min-w-[7.5rem] flex-1 flex-col items-start gap-0.5 rounded-md border border-line bg-white px-3 py-2 text-left ring-inset hover:bg-surface aria-pressed:ring-4 aria-pressed:ring-primary"
    >
      <span className={`text-sm font-semibold ${tone}`}>{label}</span>
      <span className={`text-3xl font-bold tabular-nums ${count > 0 ? tone : "text-muted"}`}>{count}</span>
    </button>
  );
}

const POLL_WORDS = CIRCUITS_POLL_MS === 1_000 ? "every second" : `every ${CIRCUITS_POLL_MS / 1000} seconds`;

function LiveNote({ updatedAt, failing }: { updatedAt: number; failing: boolean }) {
  if (!updatedAt || !failing) return <>Refreshes {POLL_WORDS}.</>;
  return (
    <span className="font-semibold text-error-dark">
      Couldn’t refresh — showing what we knew <Ago iso={new Date(updatedAt).toISOString()} />. Retrying.
    </span>
  );
}

function CircuitsBody({
  query,
  items,
  filtered,
  canRegister,
  showTenant,
  onClear,
}: {
  query: UseInfiniteQueryResult<InfiniteData<CircuitPage>>;
  items: CircuitView[];
  filtered: boolean;
  canRegister: boolean;
  showTenant: boolean;
  onClear: () => void;
}) {
  const force = useForceCircuit();
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const detailBase = useId();

  if (query.isPending) {
    return <LoadingStatus text="Loading the breakers…" />;
  }

  if (!query.data) {
    return <LoadError what="the breakers" error={query.error} retry={() => query.refetch()} callbackPath="/circuits" />;
  }

  if (items.length === 0) {
    return filtered ? (
      <div className="rounded-md border border-line bg-surface p-6 text-center">
        <p className="text-lg font-semibold">No breakers match these filters.</p>
        <p className="mt-3">
          <button type="button" className="btn btn-secondary" onClick={onClear}>
            Show every breaker
          </button>
        </p>
      </div>
    ) : (
      <div className="rounded-md border border-line bg-surface p-6 text-center" data-testid="circuits-empty">
        <p className="text-lg font-semibold">
          No instances yet. Register a service in the{" "}
          {canRegister ? <Link href="/admin/services">Registry</Link> : "Registry"}; its breakers appear here.
        </p>
      </div>
    );
  }

  function toggle(id: string) {
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  const columns = 8;
  return (
    <section
      aria-labelledby="circuits-heading"
      aria-busy={query.isPlaceholderData || undefined}
      className={`space-y-4 transition-opacity ${query.isPlaceholderData ? "opacity-60" : ""}`}
    >
      <h2 id="circuits-heading" className="sr-only">
        Breakers, worst first
      </h2>
      <DataTable
        labelledBy="circuits-heading"
        columns={[
          { key: "instance", label: "Instance" },
          { key: "state", label: "Breaker" },
          { key: "rate", label: "Failure rate", numeric: true },
          { key: "since", label: "Since" },
          { key: "until", label: "Open until" },
          { key: "trips", label: "Trips (1 h)", numeric: true },
          { key: "replicas", label: "Replicas" },
          { key: "actions", label: <span className="sr-only">Actions</span> },
        ]}
      >
        {items.map((c) => {
          const open = expanded.has(c.instanceId);
          const detailId = `${detailBase}-${c.instanceId}`;
          const { disagree } = convergence(c);
          return (
            <Fragment key={c.instanceId}>
              <tr className={`border-t border-line align-top ${circuitStyles[c.state].row}`} data-state={c.state}>
                <th scope="row" className="px-3 py-2 font-normal">
                  <Link href={servicePageHref(c.service, c.tenant)} className="font-semibold">
                    {c.service}
                  </Link>
                  {showTenant && <span className="ml-2 text-xs text-muted">{c.tenant}</span>}
                  <span className="block font-mono text-xs break-all">{c.url}</span>
                  <span className="text-xs text-muted">
                    {c.region}
                    {c.enabled ? "" : " · drained"}
                  </span>
                </th>
                <td className="px-3 py-2">
                  <div className="flex flex-col items-start gap-1">
                    <CircuitBadge state={c.state} size="sm" />
                    <ForcedMarker circuit={c} />
                    {c.reason && <span className="max-w-[16rem] text-xs break-words">{c.reason}</span>}
                  </div>
                </td>
                <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">{failureRateText(c)}</td>
                <td className="px-3 py-2 whitespace-nowrap tabular-nums" title={formatAbsolute(c.since)}>
                  for <Since iso={c.since} />
                </td>
                <td className="px-3 py-2 whitespace-nowrap tabular-nums">
                  <OpenUntil circuit={c} />
                </td>
                <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">
                  {c.tripsLastHour}
                  {c.tripStreak > 1 && (
                    <span className="block text-xs text-muted" title="Trips in a row: each opens the breaker longer">
                      streak {c.tripStreak}
                    </span>
                  )}
                </td>
                <td className="px-3 py-2">
                  <button
                    type="button"
                    aria-expanded={open}
                    aria-controls={detailId}
                    onClick={() => toggle(c.instanceId)}
                    className={`inline-flex items-center gap-1 rounded px-1 text-left text-xs font-semibold underline ${
                      disagree ? "text-error-dark" : "text-primary"
                    }`}
                  >
                    <span aria-hidden="true">{open ? "▾" : "▸"}</span>
                    {convergenceWords(c)}
                    <span className="sr-only">: {c.url}</span>
                  </button>
                </td>
                <td className="px-3 py-2">
                  <ForceButtons circuit={c} onAsk={force.ask} pending={force.pendingId === c.instanceId} />
                </td>
              </tr>
              {open && (
                <tr className="bg-surface">
                  <td colSpan={columns} className="px-3 py-2">
                    <ReplicaDetail circuit={c} id={detailId} />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </DataTable>
      {force.element}
      <div className="flex flex-wrap items-center gap-4">
        <LoadMoreButton query={query} label="Show more breakers" />
        <p className="text-sm text-muted">
          Showing {items.length} {items.length === 1 ? "breaker" : "breakers"}
          {query.isFetchNextPageError ? ". We couldn’t load more; please try again." : "."}
        </p>
      </div>
    </section>
  );
}
