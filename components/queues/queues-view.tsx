"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";
import { useMemo, useState } from "react";
import { Ago } from "../board/ago";
import { TenantPicker } from "../board/tenant-picker";
import { DataTable } from "../data-table";
import { LoadError, LoadingStatus } from "../query-states";
import { replaceAddress } from "../replace-address";
import { DeadLetters } from "./dead-letters";
import { formatAge, QUEUES_POLL_MS, queueQueries, type QueueStats } from "./queue-queries";

interface Selection {
  tenant: string | null;
  queue: string;
}

/**
 * The Queues page: every HMS-SVC queue of the agency (a global admin picks one, or sees all),
 * live every two seconds — ready depth, age of the oldest ready message, in flight, delayed, dead,
 * done in the last hour, last lease — and, for the chosen queue, its dead letters with Requeue and
 * Discard. The agency and queue live in the address (`?tenant=…&queue=…`).
 */
export function QueuesView({
  canPickTenant,
  tenants,
  scopeLabel,
  isAdmin,
}: {
  canPickTenant: boolean;
  tenants: readonly string[];
  scopeLabel: string | null;
  isAdmin: boolean;
}) {
  const pathname = usePathname();
  const params = useSearchParams();
  const [tenant, setTenant] = useState<string | null>(() => (canPickTenant ? params.get("tenant") || null : null));
  const [selected, setSelected] = useState<Selection | null>(() => {
    const queue = params.get("queue");
    return queue ? { tenant: canPickTenant ? params.get("tenant") || null : null, queue } : null;
  });

  function pickTenant(t: string | null) {
    setTenant(t);
    setSelected(null);
    replaceAddress(pathname, { tenant: t, queue: null });
  }
  function pick(s: QueueStats | null) {
    const next = s ? { tenant: canPickTenant ? s.tenant : null, queue: s.queue } : null;
    setSelected(next);
    replaceAddress(pathname, { tenant: canPickTenant ? (next?.tenant ?? tenant) : null, queue: next?.queue ?? null });
  }

  const query = useQuery(queueQueries.stats(tenant));
  const items = useMemo(() => query.data?.items ?? [], [query.data]);
  const tenantOptions = useMemo(() => {
    const all = new Set(tenants);
    for (const i of items) all.add(i.tenant);
    return [...all].sort();
  }, [tenants, items]);
  const scope = scopeLabel ?? tenant;
  const showTenant = canPickTenant && !tenant;
  const selectedStats = selected
    ? items.find((i) => i.queue === selected.queue && (!canPickTenant || i.tenant === selected.tenant))
    : undefined;

  return (
    <div className="space-y-6">
      <div className="space-y-1">
        <h1 className="text-4xl font-bold tracking-tight">Queues</h1>
        <p className="text-muted">
          {scope ? (
            <>
              HMS-SVC queues of <strong className="text-ink">{scope}</strong>
            </>
          ) : (
            "HMS-SVC queues of every agency"
          )}
          . <LiveNote updatedAt={query.dataUpdatedAt} failing={query.isRefetchError} />
        </p>
      </div>

      {canPickTenant && (
        <div className="flex flex-wrap items-end gap-4">
          <TenantPicker tenants={tenantOptions} value={tenant} onChange={pickTenant} />
        </div>
      )}

      {query.isPending ? (
        <LoadingStatus text="Loading the queues…" />
      ) : !query.data ? (
        <LoadError what="the queues" error={query.error} retry={() => query.refetch()} callbackPath="/queues" />
      ) : items.length === 0 ? (
        <EmptyQueues isAdmin={isAdmin} />
      ) : (
        <section aria-labelledby="queues-heading" className="space-y-3">
          <h2 id="queues-heading" className="sr-only">
            Queues
          </h2>
          <DataTable
            labelledBy="queues-heading"
            columns={[
              { key: "queue", label: "Queue" },
              { key: "depth", label: "Ready", numeric: true },
              { key: "oldest", label: "Oldest ready", numeric: true },
              { key: "inflight", label: "In flight", numeric: true },
              { key: "delayed", label: "Delayed", numeric: true },
              { key: "dead", label: "Dead", numeric: true },
              { key: "done", label: "Done (1 h)", numeric: true },
              { key: "lease", label: "Last lease" },
              { key: "actions", label: <span className="sr-only">Dead letters</span> },
            ]}
          >
            {items.map((s) => {
              const isSelected = selected?.queue === s.queue && (!canPickTenant || selected.tenant === s.tenant);
              return (
                <tr
                  key={`${s.tenant}/${s.queue}`}
                  className={`border-t border-line align-top ${isSelected ? "bg-primary-lighter" : ""}`}
                  data-queue={s.queue}
                >
                  <th scope="row" className="px-3 py-2 font-normal">
                    <span className="font-mono font-semibold">{s.queue}</span>
                    {showTenant && <span className="ml-2 text-xs text-muted">{s.tenant}</span>}
                    <span className="block text-xs text-muted">
                      max {s.maxAttempts} attempts · {s.visibilitySeconds} s visibility
                    </span>
                  </th>
                  <td className="px-3 py-2 text-right tabular-nums" data-testid="queue-depth">
                    {s.depth}
                  </td>
                  <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">
                    {formatAge(s.oldestReadyAgeSeconds)}
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums">{s.inFlight}</td>
                  <td className="px-3 py-2 text-right tabular-nums">{s.delayed}</td>
                  <td
                    className={`px-3 py-2 text-right tabular-nums ${s.dead > 0 ? "font-bold text-error-dark" : ""}`}
                    data-testid="queue-dead"
                  >
                    {s.dead}
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums">{s.doneLastHour}</td>
                  <td className="px-3 py-2 whitespace-nowrap">
                    <Ago iso={s.lastLeaseAt} never="not in the last hour" />
                  </td>
                  <td className="px-3 py-2">
                    <button
                      type="button"
                      className="btn btn-secondary px-2.5 py-1 text-xs"
                      aria-pressed={isSelected}
                      aria-label={`Dead letters of ${s.queue}${showTenant ? ` (${s.tenant})` : ""}: ${s.dead}`}
                      onClick={() => pick(isSelected ? null : s)}
                    >
                      Dead letters ({s.dead})
                    </button>
                  </td>
                </tr>
              );
            })}
          </DataTable>
        </section>
      )}

      {selected && (
        <DeadLetters
          queue={selected.queue}
          tenant={selected.tenant}
          tenantParam={canPickTenant ? selected.tenant : null}
          deadCount={selectedStats?.dead ?? null}
          onClose={() => pick(null)}
        />
      )}
    </div>
  );
}

function EmptyQueues({ isAdmin }: { isAdmin: boolean }) {
  return (
    <div className="space-y-3 rounded-md border border-line bg-surface p-6" data-testid="queues-empty">
      <p className="text-lg font-semibold">No queues yet.</p>
      <p>A queue appears when its first message is sent. A registered service sends one with its service token:</p>
      <pre className="overflow-x-auto rounded bg-white p-3 text-sm">
        {`curl -X POST "$HMS/api/v1/queues/claim-review/messages" \\
  -H "Authorization: Bearer hms_svc_…" -H "Content-Type: application/json" \\
  -d '{"payload": {"claimId": "CLM-1"}}'`}
      </pre>
      <p>
        {isAdmin ? (
          <>
            Issue a service token on the service’s page in the <Link href="/admin/services">Registry</Link> (Service
            tokens).
          </>
        ) : (
          "An administrator issues service tokens on the service’s page in the Registry."
        )}{" "}
        Claims sent by veterans go to the <span className="font-mono">claim-review</span> queue on their own.
      </p>
    </div>
  );
}

function LiveNote({ updatedAt, failing }: { updatedAt: number; failing: boolean }) {
  if (!updatedAt || !failing) return <>Refreshes every {QUEUES_POLL_MS / 1000} seconds.</>;
  return (
    <span className="font-semibold text-error-dark">
      Couldn’t refresh — showing what we knew <Ago iso={new Date(updatedAt).toISOString()} />. Retrying.
    </span>
  );
}
