"use client";

import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Ago } from "../board/ago";
import { ConfirmDialog } from "../board/confirm-dialog";
import { DataTable } from "../data-table";
import { LoadMoreButton } from "../load-more-button";
import { LoadError, LoadingStatus } from "../query-states";
import { queueApi, queueQueries, type DeadLetter } from "./queue-queries";

type Action = "requeue" | "discard";

/**
 * Dead letters of one queue, most recently dead first: attempts, last error, a preview of the
 * payload, and Requeue / Discard — each asks first, and the server records it in the audit trail.
 * No optimistic update: after the write, the list and the queue figures are fetched again.
 */
export function DeadLetters({
  queue,
  tenant,
  tenantParam,
  deadCount,
  onClose,
}: {
  queue: string;
  /** the queue's agency, when a global admin picked it (shown only) */
  tenant: string | null;
  /** `?tenant=` for the writes (global admins) */
  tenantParam: string | null;
  deadCount: number | null;
  onClose: () => void;
}) {
  const queryClient = useQueryClient();
  const query = useInfiniteQuery(queueQueries.dead(queue, tenantParam));
  const items = useMemo(() => query.data?.pages.flatMap((p) => p.items) ?? [], [query.data]);
  const [asking, setAsking] = useState<{ message: DeadLetter; action: Action } | null>(null);
  const [announcement, setAnnouncement] = useState("");

  const mutation = useMutation({
    mutationFn: ({ message, action }: { message: DeadLetter; action: Action }) =>
      action === "requeue" ? queueApi.requeue(message, tenantParam) : queueApi.discard(message, tenantParam),
    onSuccess: (_, { message, action }) => {
      setAsking(null);
      setAnnouncement(
        action === "requeue"
          ? `Message ${message.id} is back on ${queue}, with its attempts reset.`
          : `Message ${message.id} was discarded.`,
      );
      void queryClient.invalidateQueries({ queryKey: queueQueries.all() });
    },
  });

  function ask(message: DeadLetter, action: Action) {
    mutation.reset();
    setAnnouncement("");
    setAsking({ message, action });
  }

  const headingId = `dead-${queue}`;
  return (
    <section aria-labelledby={headingId} className="space-y-4 rounded-md border border-line p-4">
      <div className="flex flex-wrap items-baseline justify-between gap-3">
        <h2 id={headingId} className="text-2xl font-bold">
          Dead letters of <span className="font-mono">{queue}</span>
          {tenant && <span className="ml-2 text-base font-normal text-muted">{tenant}</span>}
          {deadCount !== null && <span className="ml-2 text-base font-normal text-muted">({deadCount})</span>}
        </h2>
        <button type="button" className="btn btn-secondary px-3 py-1.5 text-sm" onClick={onClose}>
          Close
        </button>
      </div>
      <p role="status" className="text-sm font-semibold">
        {mutation.isError && !asking ? `Couldn’t change the message: ${mutation.error.message}` : announcement}
      </p>
      {query.isPending ? (
        <LoadingStatus text="Loading the dead letters…" />
      ) : !query.data ? (
        <LoadError what="the dead letters" error={query.error} retry={() => query.refetch()} callbackPath="/queues" />
      ) : items.length === 0 ? (
        <p className="rounded-md bg-surface p-4" data-testid="dead-empty">
          No dead letters. A message lands here when it has failed its last attempt (a nack, or a lease that ran out).
        </p>
      ) : (
        <>
          <DataTable
            labelledBy={headingId}
            columns={[
              { key: "message", label: "Message" },
              { key: "attempts", label: "Attempts", numeric: true },
              { key: "error", label: "Last error" },
              { key: "died", label: "Dead since" },
              { key: "actions", label: <span className="sr-only">Actions</span> },
            ]}
          >
            {items.map((m) => (
              <tr key={m.id} className="border-t border-line align-top" data-message-id={m.id}>
                <th scope="row" className="max-w-[22rem] px-3 py-2 font-normal">
                  <span className="block font-mono text-xs break-all">{m.id}</span>
                  <code className="mt-1 block text-xs break-all text-muted">{m.payloadPreview}</code>
                </th>
                <td className="px-3 py-2 text-right tabular-nums">
                  {m.attempts} / {m.maxAttempts}
                </td>
                <td className="max-w-[20rem] px-3 py-2 break-words">{m.lastError ?? "—"}</td>
                <td className="px-3 py-2 whitespace-nowrap">
                  <Ago iso={m.diedAt} />
                </td>
                <td className="px-3 py-2">
                  <div role="group" aria-label={`Message ${m.id}`} className="flex flex-wrap gap-1.5">
                    <button
                      type="button"
                      className="btn btn-primary px-2.5 py-1 text-xs"
                      disabled={mutation.isPending}
                      aria-label={`Requeue message ${m.id}`}
                      onClick={() => ask(m, "requeue")}
                    >
                      Requeue
                    </button>
                    <button
                      type="button"
                      className="btn btn-secondary px-2.5 py-1 text-xs"
                      disabled={mutation.isPending}
                      aria-label={`Discard message ${m.id}`}
                      onClick={() => ask(m, "discard")}
                    >
                      Discard
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </DataTable>
          <div className="flex flex-wrap items-center gap-4">
            <LoadMoreButton query={query} label="Show more dead letters" />
            <p className="text-sm text-muted">
              Showing {items.length} {items.length === 1 ? "dead letter" : "dead letters"}.
            </p>
          </div>
        </>
      )}
      <ConfirmDialog
        open={asking !== null}
        title={asking?.action === "discard" ? "Discard this message?" : "Requeue this message?"}
        confirmLabel={asking?.action === "discard" ? "Discard" : "Requeue"}
        destructive={asking?.action === "discard"}
        pending={mutation.isPending}
        error={mutation.isError ? mutation.error.message : null}
        onCancel={() => {
          setAsking(null);
          mutation.reset();
        }}
        onConfirm={() => asking && mutation.mutate(asking)}
      >
        {asking?.action === "discard" ? (
          <>
            <p>
              Message <span className="font-mono break-all">{asking.message.id}</span> will be deleted for good; no
              consumer will see it again.
            </p>
            <p className="text-muted">Its payload and last error are kept in the audit log.</p>
          </>
        ) : asking ? (
          <>
            <p>
              Message <span className="font-mono break-all">{asking.message.id}</span> goes back on{" "}
              <span className="font-mono">{queue}</span> with its attempts reset to 0, and is delivered to the next
              consumer that leases.
            </p>
            <p className="text-muted">This is recorded in the audit log.</p>
          </>
        ) : null}
      </ConfirmDialog>
    </section>
  );
}
