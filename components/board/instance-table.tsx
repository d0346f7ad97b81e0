"use client";

import { DataTable } from "../data-table";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { CircuitBadge, ForcedMarker, OpenUntil } from "../circuits/circuit-state";
import { ForceButtons, useForceCircuit } from "../circuits/force-circuit";
import { circuitQueries, type CircuitView } from "../queries/circuits";
import { registryApi, registryQueries, type InstanceView, type ServiceView } from "../queries/registry";
import { Ago, Since } from "./ago";
import { ConfirmDialog } from "./confirm-dialog";
import { DemoModeControl } from "./demo-mode-control";
import { HealthBadge } from "./health-status";
import { formatLatency } from "./relative-time";
import { capitalise } from "./words";

/**
 * The instances of one service: where each lives, how it is doing, its breaker, and the
 * operator's actions on it — drain (stop sending it traffic; asks first) or enable again, and
 * force the breaker open or closed or release it (asks first).
 */
export function InstanceTable({
  service,
  tenant,
  labelledBy,
}: {
  service: ServiceView;
  tenant: string | null;
  labelledBy: string;
}) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState<InstanceView | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const demo = useQuery({ ...registryQueries.demoInstances(), retry: false });
  const demoByInstance = new Map((demo.data?.items ?? []).map((d) => [d.instanceId, d]));
  const circuits = useQuery(circuitQueries.service(service.name, tenant));
  const circuitByInstance = new Map((circuits.data?.items ?? []).map((c) => [c.instanceId, c]));
  const force = useForceCircuit();

  const toggle = useMutation({
    mutationFn: ({ instance, enabled }: { instance: InstanceView; enabled: boolean }) =>
      registryApi.setInstanceEnabled(service.name, tenant, instance.id, enabled),
    onSuccess: (view, { instance, enabled }) => {
      queryClient.setQueryData(registryQueries.service(service.name, tenant).queryKey, view);
      void queryClient.invalidateQueries({ queryKey: registryQueries.all() });
      setConfirming(null);
      setAnnouncement(
        enabled
          ? `${instance.url} is enabled again and will get traffic once it passes its checks.`
          : `${instance.url} is drained: it gets no traffic until you enable it.`,
      );
    },
  });

  const pendingId = toggle.isPending ? toggle.variables?.instance.id : undefined;

  if (service.instances.length === 0) {
    return (
      <p className="rounded-md border border-line bg-surface p-4">
        This service has no instances. An admin can add one from the service’s edit page.
      </p>
    );
  }

  return (
    <div className="space-y-3">
      <DataTable
        labelledBy={labelledBy}
        columns={[
          { key: "url", label: "URL" },
          { key: "region", label: "Region" },
          { key: "weight", label: "Weight", numeric: true },
          { key: "status", label: "Status" },
          { key: "breaker", label: "Breaker" },
          { key: "checked", label: "Last check" },
          { key: "latency", label: "Latency", numeric: true },
          { key: "error", label: "Last error" },
          { key: "actions", label: <span className="sr-only">Actions</span> },
        ]}
      >
        {service.instances.map((inst) => {
          const demoInstance = demoByInstance.get(inst.id);
          return (
            <Fragment key={inst.id}>
              <tr className={`border-t border-line align-top ${inst.enabled ? "" : "bg-surface"}`}>
                <th scope="row" className="px-3 py-2 font-normal">
                  <span className="font-mono whitespace-nowrap">{inst.url}</span>
                </th>
                <td className="px-3 py-2">{inst.region}</td>
                <td className="px-3 py-2 text-right tabular-nums">{inst.weight}</td>
                <td className="px-3 py-2">
                  <div className="flex flex-col items-start gap-1">
                    {inst.enabled ? (
                      <HealthBadge status={inst.status} size="sm" />
                    ) : (
                      <span className="inline-flex items-center gap-1 rounded-full bg-white px-2 py-0.5 text-xs font-bold ring-1 ring-muted ring-inset">
                        <span aria-hidden="true">⏸</span> Drained
                      </span>
                    )}
                    {inst.status !== "green" && inst.statusReason && (
                      <span className="text-xs">{capitalise(inst.statusReason)}</span>
                    )}
                  </div>
                </td>
                <td className="px-3 py-2">
                  <BreakerCell
                    circuit={circuitByInstance.get(inst.id)}
                    failed={circuits.isError}
                    onAsk={force.ask}
                    pending={force.pendingId === inst.id}
                  />
                </td>
                <td className="px-3 py-2 whitespace-nowrap tabular-nums">
                  <Ago iso={inst.lastCheckedAt} />
                </td>
                <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">
                  {formatLatency(inst.lastLatencyMs)}
                </td>
                <td className="max-w-[16rem] px-3 py-2 break-words">
                  {inst.lastError ? <span className="font-mono text-xs">{inst.lastError}</span> : "—"}
                </td>
                <td className="px-3 py-2">
                  {inst.enabled ? (
                    <button
                      type="button"
                      className="btn btn-secondary px-3 py-1 text-sm"
                      aria-label={`Drain ${inst.url}`}
                      disabled={pendingId === inst.id}
                      onClick={() => {
                        toggle.reset();
                        setConfirming(inst);
                      }}
                    >
                      Drain
                    </button>
                  ) : (
                    <button
                      type="button"
                      className="btn btn-primary px-3 py-1 text-sm"
                      aria-label={`Enable ${inst.url}`}
                      disabled={pendingId === inst.id}
                      onClick={() => {
                        toggle.reset();
                        toggle.mutate({ instance: inst, enabled: true });
                      }}
                    >
                      {pendingId === inst.id ? "Enabling…" : "Enable"}
                    </button>
                  )}
                </td>
              </tr>
              {demoInstance && (
                <tr className="bg-info-lighter">
                  <td colSpan={9} className="px-3 py-2">
                    <DemoModeControl instance={demoInstance} label={`Demo fleet mode for ${inst.url}`} />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </DataTable>

      <p role="status" className="text-sm font-semibold">
        {toggle.isError && !confirming ? `Couldn’t change the instance: ${toggle.error.message}` : announcement}
      </p>

      {force.element}

      <ConfirmDialog
        open={confirming !== null}
        title="Drain this instance?"
        confirmLabel="Drain instance"
        destructive
        pending={toggle.isPending}
        error={toggle.isError ? toggle.error.message : null}
        onCancel={() => {
          setConfirming(null);
          toggle.reset();
        }}
        onConfirm={() => confirming && toggle.mutate({ instance: confirming, enabled: false })}
      >
        <p>
          <span className="font-mono break-all">{confirming?.url}</span> ({confirming?.region}) will stop receiving
          traffic. It stays registered, and while drained it does not count towards the service’s status.
        </p>
        <p className="text-muted">You can enable it again at any time.</p>
      </ConfirmDialog>
    </div>
  );
}

/** One instance's breaker: state, since when, the countdown to trial calls, who forced it, and force / release. */
function BreakerCell({
  circuit,
  failed,
  onAsk,
  pending,
}: {
  circuit: CircuitView | undefined;
  failed: boolean;
  onAsk: ReturnType<typeof useForceCircuit>["ask"];
  pending: boolean;
}) {
  if (!circuit) return <span className="text-muted">{failed ? "Couldn’t load" : "—"}</span>;
  return (
    <div className="flex min-w-[11rem] flex-col items-start gap-1">
      <span className="inline-flex flex-wrap items-center gap-1">
        <CircuitBadge state={circuit.state} size="sm" />
        <ForcedMarker circuit={circuit} />
      </span>
      <span className="text-xs whitespace-nowrap text-muted">
        for <Since iso={circuit.since} />
        {circuit.state === "open" && (
          <>
            {" · "}
            <OpenUntil circuit={circuit} />
          </>
        )}
      </span>
      <ForceButtons circuit={circuit} onAsk={onAsk} pending={pending} />
    </div>
  );
}
