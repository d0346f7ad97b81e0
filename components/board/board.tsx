"use client";

import { LoadMoreButton } from "../load-more-button";
import { useInfiniteQuery, type InfiniteData, type UseInfiniteQueryResult } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";
import { useEffect, useId, useMemo, useState } from "react";
import { LoadError, LoadingStatus } from "../query-states";
import { replaceAddress } from "../replace-address";
import {
  BOARD_POLL_MS,
  isBoardStatusFilter,
  registryQueries,
  type BoardFilters,
  type BoardItem,
  type BoardPage,
  type BoardStatusFilter,
  type BoardSummary,
} from "../queries/registry";
import { Ago } from "./ago";
import { BoardList } from "./board-list";
import { BoardTile } from "./board-tile";
import { healthStyles } from "./health-status";
import { SummaryBar } from "./summary-bar";
import { TenantPicker } from "./tenant-picker";
import { WorkerBanner } from "./worker-banner";

const SEARCH_DEBOUNCE_MS = 250;

/** Tiles (the glanceable default) or a dense list (hundreds of services). */
type BoardView = "tiles" | "list";

function filtersFrom(params: URLSearchParams, canPickTenant: boolean): BoardFilters {
  const status = params.get("status");
  return {
    tenant: canPickTenant ? params.get("tenant") || null : null,
    status: isBoardStatusFilter(status) ? status : null,
    q: (params.get("q") ?? "").trim().slice(0, 100),
  };
}

function filterLabel(f: BoardStatusFilter): string {
  return f === "maintenance" ? "In maintenance" : healthStyles[f].label;
}

function summaryWords(s: BoardSummary): string {
  const parts = (["red", "yellow", "green", "unknown"] as const)
    .filter((k) => s[k] > 0)
    .map((k) => `${s[k]} ${healthStyles[k].label.toLowerCase()}`);
  return parts.length ? `${parts.join(", ")}.` : "No services.";
}

/**
 * The operator board: counts per status (which are also the filter), agency and name filters,
 * the worker's liveness, and a grid of tiles worst first, refreshed every 3 seconds. Filters
 * live in the address (`?status=red&q=pay`) so a view can be shared and survives a reload.
 */
export function Board({
  canPickTenant,
  tenants,
  canRegister,
  scopeLabel,
}: {
  /** a global admin may pick an agency */
  canPickTenant: boolean;
  /** agencies to offer in the picker */
  tenants: readonly string[];
  /** admins see links to register or import services */
  canRegister: boolean;
  /** "agency-a" for an operator; shown under the heading */
  scopeLabel: string | null;
}) {
  const pathname = usePathname();
  const params = useSearchParams();
  const searchId = useId();

  // The address gives the starting filters; after that they are React state (updates render at
  // once, not as a router transition that a ticking clock could keep interrupting), mirrored
  // back into the address so the view can be shared and survives a reload.
  const [state, setState] = useState(() => {
    const initial = new URLSearchParams(params.toString());
    return {
      filters: filtersFrom(initial, canPickTenant),
      view: (initial.get("view") === "list" ? "list" : "tiles") as BoardView,
    };
  });
  const { filters, view } = state;
  const [qInput, setQInput] = useState(filters.q);

  function update(next: { tenant?: string | null; status?: BoardStatusFilter | null; q?: string; view?: BoardView }) {
    const merged = {
      filters: {
        tenant: next.tenant !== undefined ? next.tenant : filters.tenant,
        status: next.status !== undefined ? next.status : filters.status,
        q: next.q !== undefined ? next.q : filters.q,
      },
      view: next.view ?? view,
    };
    setState(merged);
    replaceAddress(pathname, {
      tenant: merged.filters.tenant,
      status: merged.filters.status,
      q: merged.filters.q || null,
      view: merged.view === "list" ? "list" : null,
      denied: null, // a one-off notice, not a filter
    });
  }

  // The search box filters once typing pauses.
  const typed = qInput.trim().slice(0, 100);
  useEffect(() => {
    if (typed === filters.q) return;
    const t = setTimeout(() => update({ q: typed }), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(t);
  });

  const query = useInfiniteQuery(registryQueries.board(filters));
  const pages = query.data?.pages;
  const first = pages?.[0];
  const items = useMemo(() => pages?.flatMap((p) => p.items) ?? [], [pages]);

  // Agencies to offer: the server's list plus any seen on the board.
  const tenantOptions = useMemo(() => {
    const all = new Set(tenants);
    for (const i of items) all.add(i.tenant);
    return [...all].sort();
  }, [tenants, items]);

  const filtered = filters.status !== null || filters.q !== "";
  const showTenant = canPickTenant && !filters.tenant;

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div className="space-y-1">
          <h1 className="text-4xl font-bold tracking-tight">Service board</h1>
          <p className="text-muted">
            {scopeLabel ? (
              <>
                Services of <strong className="text-ink">{scopeLabel}</strong>
              </>
            ) : filters.tenant ? (
              <>
                Services of <strong className="text-ink">{filters.tenant}</strong>
              </>
            ) : (
              "Services of every agency"
            )}
            , worst first. <LiveNote updatedAt={query.dataUpdatedAt} failing={query.isRefetchError} />
          </p>
        </div>
        {canRegister && (
          <p className="flex flex-wrap gap-2">
            <Link href="/admin/services/new" className="btn btn-secondary px-3 py-1.5 text-sm">
              Register a service
            </Link>
          </p>
        )}
      </div>

      {first?.worker.stale && <WorkerBanner lastLoopAt={first.worker.lastLoopAt} />}

      {first && (
        <>
          <SummaryBar summary={first.summary} active={filters.status} onSelect={(status) => update({ status })} />
          <p role="status" className="sr-only">
            {summaryWords(first.summary)}
          </p>
        </>
      )}

      <div className="flex flex-wrap items-end gap-4">
        {canPickTenant && (
          <TenantPicker tenants={tenantOptions} value={filters.tenant} onChange={(tenant) => update({ tenant })} />
        )}
        <div className="flex min-w-[14rem] flex-1 flex-col gap-1">
          <label htmlFor={searchId} className="text-sm font-bold">
            Find a service by name
          </label>
          <input
            id={searchId}
            type="search"
            value={qInput}
            onChange={(e) => setQInput(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape" && qInput) {
                e.preventDefault();
                setQInput("");
              }
            }}
            placeholder="e.g. payments"
            autoComplete="off"
            spellCheck={false}
            maxLength={100}
            className="rounded border-2 border-ink px-3 py-2"
          />
        </div>
        <div role="group" aria-label="View" className="inline-flex overflow-hidden rounded border-2 border-primary">
          {(["tiles", "list"] as const).map((v) => (
            <button
              key={v}
              type="button"
              aria-pressed={view === v}
              onClick={() => update({ view: v })}
              className="border-l border-primary px-3 py-2 font-semibold text-primary first:border-l-0 hover:bg-primary-lighter aria-pressed:bg-primary aria-pressed:text-white"
            >
              {v === "tiles" ? "Tiles" : "List"}
            </button>
          ))}
        </div>
        {filtered && (
          <button
            type="button"
            className="btn btn-secondary"
            onClick={() => {
              setQInput("");
              update({ status: null, q: "" });
            }}
          >
            Clear filters
          </button>
        )}
      </div>

      <BoardBody
        query={query}
        items={items}
        filters={filters}
        filtered={filtered}
        canRegister={canRegister}
        showTenant={showTenant}
        view={view}
        onClear={() => {
          setQInput("");
          update({ status: null, q: "" });
        }}
      />
    </div>
  );
}

function LiveNote({ updatedAt, failing }: { updatedAt: number; failing: boolean }) {
  if (!updatedAt) return <>Refreshes every {BOARD_POLL_MS / 1000} seconds.</>;
  const iso = new Date(updatedAt).toISOString();
  return failing ? (
    <span className="font-semibold text-error-dark">
      Couldn’t refresh — showing what we knew <Ago iso={iso} />. Retrying.
    </span>
  ) : (
    <>
      Refreshes every {BOARD_POLL_MS / 1000} seconds (updated <Ago iso={iso} />
      ).
    </>
  );
}

function BoardBody({
  query,
  items,
  filters,
  filtered,
  canRegister,
  showTenant,
  view,
  onClear,
}: {
  query: UseInfiniteQueryResult<InfiniteData<BoardPage>>;
  view: BoardView;
  items: BoardItem[];
  filters: BoardFilters;
  filtered: boolean;
  canRegister: boolean;
  showTenant: boolean;
  onClear: () => void;
}) {
  if (query.isPending) {
    return <LoadingStatus text="Loading the board…" />;
  }

  if (!query.data) {
    return <LoadError what="the board" error={query.error} retry={() => query.refetch()} callbackPath="/" />;
  }

  const summary = query.data.pages[0]?.summary;

  if (items.length === 0) {
    if (!filtered) {
      return (
        <div className="rounded-md border border-line bg-surface p-6 text-center" data-testid="board-empty">
          <p className="text-lg font-semibold">
            No services registered yet — an admin can register one at{" "}
            {canRegister ? <Link href="/admin/services/new">/admin/services/new</Link> : "/admin/services/new"} or{" "}
            {canRegister ? <Link href="/admin/registry">import a registry.yml</Link> : "import a registry.yml"}
          </p>
          <p className="mt-1 text-muted">
            {filters.tenant ? `Nothing is registered for ${filters.tenant}. ` : ""}
            Registered services appear here within seconds, with their health.
          </p>
        </div>
      );
    }
    return (
      <div className="rounded-md border border-line bg-surface p-6 text-center">
        <p className="text-lg font-semibold">
          No services match
          {filters.status ? ` “${filterLabel(filters.status)}”` : ""}
          {filters.q ? ` the name “${filters.q}”` : ""}.
        </p>
        <p className="mt-3">
          <button type="button" className="btn btn-secondary" onClick={onClear}>
            Show all services
          </button>
        </p>
      </div>
    );
  }

  const expected = summary ? (filters.status ? summary[filters.status] : summary.total) : undefined;

  return (
    <section
      aria-labelledby="board-services-heading"
      aria-busy={query.isPlaceholderData || undefined}
      className={`space-y-4 transition-opacity ${query.isPlaceholderData ? "opacity-60" : ""}`}
    >
      <h2 id="board-services-heading" className="sr-only">
        Services
      </h2>
      {view === "list" ? (
        <BoardList items={items} showTenant={showTenant} />
      ) : (
        <ul className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3" aria-label="Services, worst first">
          {items.map((item) => (
            <BoardTile key={`${item.tenant}/${item.name}`} item={item} showTenant={showTenant} />
          ))}
        </ul>
      )}
      <div className="flex flex-wrap items-center gap-4">
        <LoadMoreButton query={query} label="Show more services" />
        <p className="text-sm text-muted">
          Showing {items.length}
          {expected !== undefined && !filters.q && expected >= items.length ? ` of ${expected}` : ""}{" "}
          {items.length === 1 ? "service" : "services"}
          {query.hasNextPage ? "" : filtered ? " that match" : ""}.
          {query.isFetchNextPageError ? " We couldn’t load more; please try again." : ""}
        </p>
      </div>
    </section>
  );
}
