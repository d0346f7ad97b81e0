"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { ConfirmDialog } from "../board/confirm-dialog";
import { circuitApi, circuitQueries, type CircuitView, type ForceAction } from "../queries/circuits";
import { registryQueries } from "../queries/registry";
import { circuitStyles } from "./circuit-state";

type Target = Pick<CircuitView, "instanceId" | "url" | "region" | "service" | "forced">;

const actionLabels: Record<ForceAction, string> = {
  open: "Force open",
  closed: "Force closed",
  release: "Release",
};

/** What each override does to traffic, said before the operator confirms it. */
function consequences(action: ForceAction, t: Target): ReactNode {
  const where = (
    <>
      <span className="font-mono break-all">{t.url}</span> ({t.service}, {t.region})
    </>
  );
  const forcedNote = (
    <p className="text-muted">Every gateway replica follows within a second. This is recorded in the audit log.</p>
  );
  switch (action) {
    case "open":
      return (
        <>
          <p>
            {where} will get no traffic through the gateway until you release the breaker or force it closed. Calls go
            to the service’s other instances, or fail over to another region.
          </p>
          {forcedNote}
        </>
      );
    case "closed":
      return (
        <>
          <p>
            {where} will get traffic whatever its failures: the breaker stops protecting callers from it until you
            release it.
          </p>
          {forcedNote}
        </>
      );
    case "release":
      return (
        <>
          <p>
            The breaker of {where} goes back to automatic.{" "}
            {t.forced === "open"
              ? "It starts half-open: a few trial calls decide whether it closes."
              : "It stays closed until failures trip it."}
          </p>
          <p className="text-muted">This is recorded in the audit log.</p>
        </>
      );
  }
}

function doneWords(view: CircuitView, action: ForceAction): string {
  const state = circuitStyles[view.state].label.toLowerCase();
  return action === "release"
    ? `Released the breaker of ${view.url}; it is ${state} and automatic again.`
    : `The breaker of ${view.url} is forced ${action}.`;
}

/**
 * Force / release for a table of breakers: one confirm dialog and one announcement for all
 * rows. No optimistic update — after the POST, every breaker, board and service query is
 * refetched, so what the page shows is what the server stored.
 */
export function useForceCircuit() {
  const queryClient = useQueryClient();
  const [asking, setAsking] = useState<{ target: Target; action: ForceAction } | null>(null);
  const [announcement, setAnnouncement] = useState("");

  const mutation = useMutation({
    mutationFn: ({ target, action }: { target: Target; action: ForceAction }) =>
      circuitApi.force(target.instanceId, action),
    onSuccess: (view, { action }) => {
      setAsking(null);
      setAnnouncement(doneWords(view, action));
      // The breaker changes the instance's health and the service's tile as well.
      void queryClient.invalidateQueries({ queryKey: circuitQueries.all() });
      void queryClient.invalidateQueries({ queryKey: registryQueries.all() });
    },
  });

  function ask(target: Target, action: ForceAction) {
    mutation.reset();
    setAnnouncement("");
    setAsking({ target, action });
  }

  const pendingId = mutation.isPending ? mutation.variables?.target.instanceId : undefined;

  const element = (
    <>
      <p role="status" className="text-sm font-semibold">
        {mutation.isError && !asking ? `Couldn’t change the breaker: ${mutation.error.message}` : announcement}
      </p>
      <ConfirmDialog
        open={asking !== null}
        title={
          asking
            ? asking.action === "release"
              ? "Release this breaker?"
              : `Force this breaker ${asking.action}?`
            : "Change this breaker?"
        }
        confirmLabel={asking ? actionLabels[asking.action] : "Confirm"}
        destructive={asking?.action === "open"}
        pending={mutation.isPending}
        error={mutation.isError ? mutation.error.message : null}
        onCancel={() => {
          setAsking(null);
          mutation.reset();
        }}
        onConfirm={() => asking && mutation.mutate(asking)}
      >
        {asking && consequences(asking.action, asking.target)}
      </ConfirmDialog>
    </>
  );

  return { ask, pendingId, element };
}

/**
 * The overrides that make sense from where a breaker stands: force open / force closed while
 * automatic; release or the opposite force while forced. Each asks first.
 */
export function ForceButtons({
  circuit,
  onAsk,
  pending,
}: {
  circuit: Target;
  onAsk: (target: Target, action: ForceAction) => void;
  pending: boolean;
}) {
  const actions: ForceAction[] =
    circuit.forced === "open"
      ? ["release", "closed"]
      : circuit.forced === "closed"
        ? ["release", "open"]
        : ["open", "closed"];
  return (
    <div role="group" aria-label={`Breaker of ${circuit.url}`} className="flex flex-wrap gap-1.5">
      {actions.map((action, slot) => (
        // Keyed by slot, not action: after a force the first button changes from "Force open" to
        // "Release" in place, so keyboard focus (returned there by the dialog) is not lost.
        <button
          key={slot}
          type="button"
          className={`btn px-2.5 py-1 text-xs ${action === "release" ? "btn-primary" : "btn-secondary"}`}
          aria-label={`${actionLabels[action]}: breaker of ${circuit.url}`}
          disabled={pending}
          onClick={() => onAsk(circuit, action)}
        >
          {actionLabels[action]}
        </button>
      ))}
    </div>
  );
}
