"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { usePathname, useSearchParams } from "next/navigation";
import { useMemo, useState } from "react";
import { TenantPicker } from "../board/tenant-picker";
import { LoadMoreButton } from "../load-more-button";
import { LoadError, LoadingStatus } from "../query-states";
import { replaceAddress } from "../replace-address";
import { AuditFilterForm } from "./audit-filters";
import { auditCsvHref, auditQueries, emptyAuditFilters, type AuditFilters } from "./audit-queries";
import { AuditTable } from "./audit-table";
import { ChainStatus } from "./chain-status";

const isoOrNull = (v: string | null) => (v && !Number.isNaN(Date.parse(v)) ? v : null);

/** Filters live in the address (`?actor=…&from=…`), replaced in place as on the other pages. */
function filtersFrom(params: URLSearchParams, canPickTenant: boolean): AuditFilters {
  const text = (k: string, max: number) => params.get(k)?.trim().slice(0, max) || null;
  const event = params.get("event");
  return {
    tenant: canPickTenant ? params.get("tenant") || null : null,
    actor: text("actor", 200),
    action: text("action", 200),
    target: text("target", 500),
    from: isoOrNull(params.get("from")),
    to: isoOrNull(params.get("to")),
    event: event && /^\d{1,18}$/.test(event) ? event : null,
  };
}

/**
 * The Audit page: whether the caller's hash chain verifies (and where it breaks), the events
 * filtered by actor / action / target / time, newest first with "Load more", and a CSV export of
 * the same filters.
 */
export function AuditView({
  canPickTenant,
  tenants,
  scopeLabel,
}: {
  canPickTenant: boolean;
  tenants: readonly string[];
  /** the operator's agency; null for a global admin */
  scopeLabel: string | null;
}) {
  const pathname = usePathname();
  const params = useSearchParams();
  const [filters, setFilters] = useState(() => filtersFrom(new URLSearchParams(params.toString()), canPickTenant));
  // Bumped when the filters change from outside the form (banner, tenant), to reset its fields.
  const [formKey, setFormKey] = useState(0);

  function update(next: Partial<AuditFilters>, resetForm = false) {
    const merged = { ...filters, ...next };
    setFilters(merged);
    if (resetForm) setFormKey((k) => k + 1);
    replaceAddress(pathname, { ...merged });
  }

  const verify = useQuery(auditQueries.verify(filters.tenant));
  const events = useInfiniteQuery(auditQueries.events(filters));
  const items = useMemo(() => events.data?.pages.flatMap((p) => p.items) ?? [], [events.data]);
  const tenantOptions = useMemo(() => [...new Set(tenants)].sort(), [tenants]);

  const scope = scopeLabel ?? (filters.tenant ? filters.tenant : "the global chain (events without an agency)");
  const filtered = (["actor", "action", "target", "from", "to", "event"] as const).some((k) => filters[k] !== null);
  const clear = () => update({ ...emptyAuditFilters, tenant: filters.tenant }, true);

  return (
    <div className="space-y-6">
      <div className="space-y-1">
        <h1 className="text-4xl font-bold tracking-tight">Audit trail</h1>
        <p className="text-muted">
          Who did what, when, from where, in{" "}
          <strong className="text-ink">{scopeLabel ?? filters.tenant ?? "every agency"}</strong>: sign-ins, tokens,
          claim uploads and status changes, registry, breaker and rate-limit changes, requeues. Events cannot be edited,
          and each is sealed into a hash chain that shows any change.
        </p>
      </div>

      {canPickTenant && (
        <TenantPicker
          tenants={tenantOptions}
          value={filters.tenant}
          onChange={(tenant) => update({ ...emptyAuditFilters, tenant }, true)}
          allLabel="All agencies (global chain)"
        />
      )}

      <ChainStatus
        query={verify}
        scope={scope}
        onShowEvent={(event) => update({ ...emptyAuditFilters, tenant: filters.tenant, event }, true)}
      />

      <AuditFilterForm key={formKey} filters={filters} onApply={(f) => update({ ...f, event: null })} onClear={clear} />

      <section
        aria-labelledby="audit-events-heading"
        aria-busy={events.isPlaceholderData || undefined}
        className="space-y-4"
      >
        <div className="flex flex-wrap items-center justify-between gap-3">
          <h2 id="audit-events-heading" className="text-2xl font-bold">
            {filters.event ? `Events from event ${filters.event} back` : "Events, newest first"}
          </h2>
          <a className="btn btn-secondary" href={auditCsvHref(filters)} download>
            Export CSV<span className="sr-only"> of the events shown by these filters</span>
          </a>
        </div>
        {filters.event && (
          <p>
            Showing event {filters.event} and the events before it.{" "}
            <button type="button" className="underline text-primary" onClick={clear}>
              Show the newest events
            </button>
          </p>
        )}
        {events.isPending ? (
          <LoadingStatus text="Loading audit events…" />
        ) : !events.data ? (
          <LoadError
            what="the audit events"
            error={events.error}
            retry={() => events.refetch()}
            callbackPath="/audit"
          />
        ) : items.length === 0 ? (
          <div className="rounded-md border border-line bg-surface p-6 text-center" data-testid="audit-empty">
            {filtered ? (
              <>
                <p className="text-lg font-semibold">No audit events match these filters.</p>
                <p className="mt-3">
                  <button type="button" className="btn btn-secondary" onClick={clear}>
                    Clear filters
                  </button>
                </p>
              </>
            ) : (
              <p className="text-lg font-semibold">
                No audit events yet. Sign-ins, claim uploads, registry changes and breaker or rate-limit changes appear
                here as they happen.
              </p>
            )}
          </div>
        ) : (
          <>
            <div className={events.isPlaceholderData ? "opacity-60 transition-opacity" : undefined}>
              <AuditTable items={items} showTenant={canPickTenant && !filters.tenant} highlight={filters.event} />
            </div>
            <div className="flex flex-wrap items-center gap-4">
              <LoadMoreButton query={events} label="Load more events" />
              <p className="text-sm text-muted" role="status">
                Showing {items.length} {items.length === 1 ? "event" : "events"}
                {events.isFetchNextPageError ? ". We couldn’t load more; please try again." : "."}
              </p>
            </div>
          </>
        )}
      </section>
    </div>
  );
}
