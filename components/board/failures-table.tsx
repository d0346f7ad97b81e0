"use client";

import { DataTable } from "../data-table";
import { useQuery } from "@tanstack/react-query";
import { registryQueries } from "../queries/registry";
import { Ago } from "./ago";
import { formatLatency } from "./relative-time";

/** The latest failed checks of a service, newest first, with the error as the prober saw it. */
export function FailuresTable({
  service,
  tenant,
  labelledBy,
}: {
  service: string;
  tenant: string | null;
  labelledBy: string;
}) {
  const query = useQuery(registryQueries.failures(service, tenant));

  if (query.isPending) {
    return (
      <p role="status" className="text-muted">
        Loading recent failures…
      </p>
    );
  }
  if (!query.data) {
    return (
      <div role="alert" className="space-y-2 rounded-md border-l-8 border-error-dark bg-error-lighter p-3">
        <p className="font-semibold">We couldn’t load recent failures: {query.error?.message}</p>
        <button type="button" className="btn btn-secondary" onClick={() => void query.refetch()}>
          Try again
        </button>
      </div>
    );
  }

  const items = query.data.items;
  if (items.length === 0) {
    return (
      <p className="rounded-md border border-line bg-surface p-4">
        <span aria-hidden="true" className="mr-1 font-bold text-success-dark">
          ✓
        </span>
        No failed checks recorded recently.
      </p>
    );
  }

  return (
    <DataTable
      labelledBy={labelledBy}
      columns={[
        { key: "when", label: "When" },
        { key: "instance", label: "Instance" },
        { key: "http", label: "HTTP", numeric: true },
        { key: "latency", label: "Latency", numeric: true },
        { key: "error", label: "Error" },
      ]}
    >
      {items.map((f, i) => (
        <tr key={`${f.at}-${f.instanceId}-${i}`} className="border-t border-line align-top">
          <td className="px-3 py-2 whitespace-nowrap tabular-nums">
            <Ago iso={f.at} />
          </td>
          <td className="px-3 py-2">
            <span className="font-mono break-all">{f.url}</span>
            {f.region && <span className="block text-xs text-muted">{f.region}</span>}
          </td>
          <td className="px-3 py-2 text-right tabular-nums">{f.httpStatus ?? "—"}</td>
          <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">{formatLatency(f.latencyMs)}</td>
          <td className="px-3 py-2 font-mono text-xs break-words">{f.error || "—"}</td>
        </tr>
      ))}
    </DataTable>
  );
}
