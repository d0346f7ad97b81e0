"use client";

import type { UseQueryResult } from "@tanstack/react-query";
import { Ago } from "../board/ago";
import { formatAbsolute, formatLatency } from "../board/relative-time";
import { CopyButton } from "../copy-button";
import { LoadError } from "../query-states";
import { breakWords, type VerifyAnswer } from "./audit-queries";

const count = new Intl.NumberFormat();

/**
 * The chain status banner: "verified ✓ n events", or "BROKEN at seq N" with the reason, the event
 * and a button that shows that event in the table. `scope` names the chain ("agency-a", "the
 * global chain").
 */
export function ChainStatus({
  query,
  scope,
  onShowEvent,
}: {
  query: UseQueryResult<VerifyAnswer>;
  scope: string;
  onShowEvent: (eventId: string) => void;
}) {
  const v = query.data;
  const again = (
    <button
      type="button"
      className="btn btn-secondary"
      disabled={query.isFetching}
      onClick={() => void query.refetch()}
    >
      {query.isFetching ? "Verifying…" : "Verify again"}
    </button>
  );

  if (query.isPending) {
    return (
      <div
        role="status"
        className="flex items-center gap-3 rounded-md border border-line bg-surface p-4"
        data-testid="chain-status"
      >
        <span
          aria-hidden="true"
          className="inline-block h-4 w-4 animate-spin rounded-full border-2 border-primary border-t-transparent"
        />
        Verifying the audit chain of {scope}: re-computing every event’s seal…
      </div>
    );
  }
  if (!v) {
    return (
      <LoadError what="the chain status" error={query.error} retry={() => query.refetch()} callbackPath="/audit" />
    );
  }

  const head = v.headSeq && v.headHash && (
    <p className="flex flex-wrap items-center gap-2 text-sm text-muted">
      <span>
        Head: seal {v.headSeq}, <code className="font-mono break-all">{v.headHash.slice(0, 16)}…</code>
      </span>
      <CopyButton value={`${v.headSeq} ${v.headHash}`} label="Copy head seal" />
      <span>Keep a copy elsewhere: it proves later that no newer events were cut off.</span>
    </p>
  );
  const checkedWhen = v.verifiedAt && (
    <>
      {" "}
      Checked <Ago iso={v.verifiedAt} />
      {v.durationMs !== null && v.durationMs !== undefined ? ` in ${formatLatency(v.durationMs)}` : ""}.
    </>
  );
  const unsealed = v.unsealed > 0 && (
    <p className="text-sm">
      {count.format(v.unsealed)} newer {v.unsealed === 1 ? "event is" : "events are"} not sealed yet; the worker seals
      new events within seconds. If this number stays, check that the worker is running.
    </p>
  );

  if (v.ok) {
    return (
      <section
        aria-labelledby="chain-status-heading"
        className="space-y-2 rounded-md border-l-8 border-success-dark bg-success-lighter p-4"
        data-testid="chain-status"
        data-chain="ok"
      >
        <div className="flex flex-wrap items-center justify-between gap-3">
          <h2 id="chain-status-heading" className="text-xl font-bold">
            <span aria-hidden="true">✓ </span>
            Chain verified: {count.format(v.checked)} {v.checked === 1 ? "event" : "events"} of {scope}, none changed,
            missing or out of order.
          </h2>
          {again}
        </div>
        <p className="text-sm">Every event is sealed with a keyed hash that covers the one before it.{checkedWhen}</p>
        {unsealed}
        {head}
      </section>
    );
  }

  const b = v.brokenAt!;
  return (
    <section
      role="alert"
      aria-labelledby="chain-status-heading"
      className="space-y-2 rounded-md border-l-8 border-error-dark bg-error-lighter p-4"
      data-testid="chain-status"
      data-chain="broken"
    >
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h2 id="chain-status-heading" className="text-xl font-bold text-error-dark">
          <span aria-hidden="true">✗ </span>
          Chain BROKEN at seal {b.seq}
          {b.eventId ? ` (event ${b.eventId})` : ""}
        </h2>
        {again}
      </div>
      <p>{breakWords(b)}</p>
      <p className="text-sm">
        The {count.format(Math.max(0, v.checked - 1))} seals before it verify.
        {b.at ? ` The event was recorded ${formatAbsolute(b.at)}.` : ""}
        {checkedWhen}
      </p>
      {b.eventId && b.reason !== "event_missing" && (
        <p>
          <button type="button" className="btn btn-primary" onClick={() => onShowEvent(b.eventId!)}>
            Show event {b.eventId} in the list
          </button>
        </p>
      )}
      {unsealed}
      {head}
    </section>
  );
}
