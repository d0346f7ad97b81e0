"use client";

import { Ago } from "../board/ago";
import type { CircuitView } from "../queries/circuits";
import { CircuitBadge } from "./circuit-state";

/**
 * How many live gateway replicas hold the shared state locally. A replica without local state
 * (it has not routed to the instance yet) adopts the shared row on its first call, so it is not
 * counted as disagreeing.
 */
export function convergence(c: CircuitView): { live: number; agree: number; disagree: number } {
  // agree + disagree < live when some replicas hold no local state
  let agree = 0;
  let disagree = 0;
  for (const r of c.replicas) {
    if (r.state === null || r.state === undefined) continue;
    if (r.state === c.state) agree++;
    else disagree++;
  }
  return { live: c.replicas.length, agree, disagree };
}

export function convergenceWords(c: CircuitView): string {
  const { live, agree, disagree } = convergence(c);
  if (live === 0) return "No live gateway replica";
  if (disagree === 0 && agree === live) return live === 1 ? "1 replica, in step" : `All ${live} replicas in step`;
  if (disagree === 0) return `${agree} of ${live} replicas in step, the rest not routed to it yet`;
  return `${disagree} of ${live} ${live === 1 ? "replica" : "replicas"} ${disagree === 1 ? "differs" : "differ"}`;
}

/**
 * Each live gateway replica's own view of one breaker (its heartbeat, every ~2 s): the state it
 * routes by, what it measured and the calls it has in flight. After a trip or a force, the
 * replicas converge within a second; a row that stays different names the replica to look at.
 */
export function ReplicaDetail({ circuit, id }: { circuit: CircuitView; id: string }) {
  if (circuit.replicas.length === 0) {
    return (
      <p id={id} className="text-sm">
        No gateway replica has reported in the last 10 seconds, so there is no per-replica view. The state above is the
        shared one every replica adopts when it starts.
      </p>
    );
  }
  const th = "px-2 py-1 font-bold whitespace-nowrap";
  const td = "px-2 py-1 whitespace-nowrap tabular-nums";
  return (
    <table id={id} className="w-full border-collapse text-left text-xs">
      <caption className="py-1 text-left font-semibold">
        Each replica’s own view of this breaker — {convergenceWords(circuit).toLowerCase()}
      </caption>
      <thead>
        <tr className="border-b border-line">
          <th scope="col" className={th}>
            Replica
          </th>
          <th scope="col" className={th}>
            Local state
          </th>
          <th scope="col" className={`${th} text-right`}>
            Calls in window
          </th>
          <th scope="col" className={`${th} text-right`}>
            Failure rate
          </th>
          <th scope="col" className={`${th} text-right`}>
            Failures in a row
          </th>
          <th scope="col" className={`${th} text-right`}>
            In flight
          </th>
          <th scope="col" className={th}>
            Last heartbeat
          </th>
        </tr>
      </thead>
      <tbody>
        {circuit.replicas.map((r) => {
          const differs = r.state !== null && r.state !== undefined && r.state !== circuit.state;
          return (
            <tr key={r.replicaId} className="border-b border-line last:border-b-0">
              <th scope="row" className="px-2 py-1 font-normal">
                <span className="font-mono break-all">{r.replicaId}</span>
                {r.hostname && !r.replicaId.startsWith(r.hostname) && (
                  <span className="ml-1 text-muted">({r.hostname})</span>
                )}
              </th>
              <td className={td}>
                {r.state ? (
                  <span className="inline-flex items-center gap-1">
                    <CircuitBadge state={r.state} size="sm" />
                    {differs && <span className="font-semibold text-error-dark">differs</span>}
                  </span>
                ) : (
                  <span className="text-muted">not routed to yet</span>
                )}
              </td>
              <td className={`${td} text-right`}>{r.calls}</td>
              <td className={`${td} text-right`}>
                {r.failureRatePct === null || r.failureRatePct === undefined ? "—" : `${r.failureRatePct}%`}
              </td>
              <td className={`${td} text-right`}>{r.consecutiveFailures}</td>
              <td className={`${td} text-right`}>{r.outstanding}</td>
              <td className={td}>
                <Ago iso={r.lastSeenAt} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
