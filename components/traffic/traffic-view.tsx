"use client";

import { useQuery } from "@tanstack/react-query";
import { usePathname, useSearchParams } from "next/navigation";
import { useId, useMemo, useState } from "react";
import { Ago } from "../board/ago";
import { TenantPicker } from "../board/tenant-picker";
import { FilterSelect } from "../filter-select";
import { isApiError } from "../queries/api-error";
import { LoadingStatus } from "../query-states";
import { replaceAddress } from "../replace-address";
import {
  isTrafficRange,
  TRAFFIC_POLL_MS,
  trafficQueries,
  trafficRanges,
  type TrafficFilters,
  type TrafficRange,
} from "../queries/traffic";
import { TenantTrafficCard } from "./tenant-traffic";
import { rangeWords, serviceLabel } from "./traffic-words";

const DEFAULT_RANGE: TrafficRange = "1h";

function filtersFrom(params: URLSearchParams, canPickTenant: boolean): TrafficFilters {
  const range = params.get("range");
  return {
    range: isTrafficRange(range) ? range : DEFAULT_RANGE,
    tenant: canPickTenant ? params.get("tenant") || null : null,
    service: params.get("service")?.trim().slice(0, 100) || null,
  };
}

/**
 * The Traffic page: range buttons, agency (global admins) and service filters — all mirrored in
 * the address, so a view can be shared and survives a reload — and one group of charts per
 * agency, refreshed every 5–10 s.
 */
export function TrafficView({
  canPickTenant,
  tenants,
  scopeLabel,
}: {
  canPickTenant: boolean;
  tenants: readonly string[];
  /** "agency-a" for an operator */
  scopeLabel: string | null;
}) {
  const pathname = usePathname();
  const params = useSearchParams();
  const rangeId = useId();
  // The address gives the starting filters; after that they are state mirrored into the address
  // (replaceState: no navigation, no history entry per click), as on the board.
  const [filters, setFilters] = useState(() => filtersFrom(new URLSearchParams(params.toString()), canPickTenant));

  function update(next: Partial<TrafficFilters>) {
    const merged = { ...filters, ...next };
    setFilters(merged);
    replaceAddress(pathname, {
      range: merged.range === DEFAULT_RANGE ? null : merged.range,
      tenant: merged.tenant,
      service: merged.service,
    });
  }

  const query = useQuery(trafficQueries.series(filters));
  const data = query.data;

  // Services to offer: those with traffic in the answer (a filtered answer lists only its own).
  const serviceOptions = useMemo(() => {
    const all = new Set<string>();
    for (const t of data?.tenants ?? []) for (const s of t.services) all.add(s.service);
    if (filters.service) all.add(filters.service);
    return [...all].sort();
  }, [data, filters.service]);

  const tenantOptions = useMemo(() => {
    const all = new Set(tenants);
    for (const t of data?.tenants ?? []) all.add(t.tenant);
    return [...all].sort();
  }, [tenants, data]);

  const words = rangeWords[filters.range];
  const several = canPickTenant && !filters.tenant;

  return (
    <div className="space-y-6">
      <div className="space-y-1">
        <h1 className="text-4xl font-bold tracking-tight">Traffic</h1>
        <p className="text-muted">
          Requests through the gateway and claim uploads of{" "}
          <strong className="text-ink">{scopeLabel ?? filters.tenant ?? "every agency"}</strong>, per minute by status
          class. <LiveNote updatedAt={query.dataUpdatedAt} failing={query.isRefetchError} range={filters.range} />
        </p>
      </div>

      <div className="flex flex-wrap items-end gap-4">
        <div className="flex flex-col gap-1">
          <span id={rangeId} className="text-sm font-bold">
            Time range
          </span>
          <div
            role="group"
            aria-labelledby={rangeId}
            className="inline-flex overflow-hidden rounded border-2 border-primary"
          >
            {trafficRanges.map((r) => (
              <button
                key={r}
                type="button"
                aria-pressed={filters.range === r}
                onClick={() => update({ range: r })}
                className="border-l border-primary px-3 py-2 font-semibold text-primary first:border-l-0 hover:bg-primary-lighter aria-pressed:bg-primary aria-pressed:text-white"
              >
                {rangeWords[r].button}
              </button>
            ))}
          </div>
        </div>
        {canPickTenant && (
          <TenantPicker tenants={tenantOptions} value={filters.tenant} onChange={(tenant) => update({ tenant })} />
        )}
        <FilterSelect
          label="Service"
          allLabel="All services"
          options={serviceOptions}
          value={filters.service}
          onChange={(service) => update({ service })}
          optionLabel={serviceLabel}
        />
      </div>

      {query.isPending ? (
        <LoadingStatus text="Loading traffic…" />
      ) : !data ? (
        <div role="alert" className="max-w-3xl space-y-2 rounded-md border-l-8 border-error-dark bg-error-lighter p-4">
          <p className="font-semibold">
            {isApiError(query.error) && query.error.status === 401
              ? "Your session has ended. Please sign in again."
              : `We couldn’t load the traffic: ${query.error?.message ?? "unknown error"}`}
          </p>
          <button type="button" className="btn btn-secondary" onClick={() => void query.refetch()}>
            Try again
          </button>
        </div>
      ) : data.tenants.length === 0 ? (
        <div role="status" className="max-w-3xl space-y-2 rounded-md border-l-8 border-primary bg-info-lighter p-4">
          <p className="font-semibold">
            {filters.service
              ? `No traffic for ${filters.service} in ${words.sentence}.`
              : `No traffic in ${words.sentence}.`}
          </p>
          <p>
            No traffic yet: calls through the gateway (<code>/api/v1/gw/&lt;service&gt;/…</code>) and claim uploads
            appear here within a minute.
          </p>
          {filters.service && (
            <button type="button" className="btn btn-secondary" onClick={() => update({ service: null })}>
              Show all services
            </button>
          )}
        </div>
      ) : (
        <div className={`space-y-6 ${query.isPlaceholderData ? "opacity-60" : ""}`} aria-busy={query.isPlaceholderData}>
          {data.tenants.map((t) => (
            <TenantTrafficCard
              key={t.tenant}
              data={t}
              range={data.range}
              showHeading={several || data.tenants.length > 1}
              onPickService={(service) => update({ service })}
            />
          ))}
        </div>
      )}
    </div>
  );
}

function LiveNote({ updatedAt, failing, range }: { updatedAt: number; failing: boolean; range: TrafficRange }) {
  const every = `Refreshes every ${TRAFFIC_POLL_MS[range] / 1000} seconds`;
  if (!updatedAt) return <>{every}.</>;
  const iso = new Date(updatedAt).toISOString();
  return failing ? (
    <span className="font-semibold text-error-dark">
      Couldn’t refresh — showing what we had <Ago iso={iso} />. Retrying.
    </span>
  ) : (
    <>
      {every} (updated <Ago iso={iso} />
      ).
    </>
  );
}
