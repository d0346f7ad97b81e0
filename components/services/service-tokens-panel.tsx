"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { Ago } from "../board/ago";
import { ConfirmDialog } from "../board/confirm-dialog";
import { CopyButton } from "../copy-button";
import { DataTable } from "../data-table";
import { LoadError, LoadingStatus } from "../query-states";
import { parseQueueList, queueApi, queueQueries, type IssuedToken, type ServiceToken } from "../queues/queue-queries";

/**
 * Service tokens of one registered service (admins): issue one — optionally limited to some
 * queues — and see its secret exactly once (with a copy button); list the tokens (prefix, queues,
 * who issued it, last use); revoke one after confirming. Issue and revoke are audited server-side.
 * `tenant`: the service's agency when a global admin is looking (null for an agency's own admin).
 */
export function ServiceTokensPanel({ service, tenant }: { service: string; tenant: string | null }) {
  const queryClient = useQueryClient();
  const headingId = useId();
  const queuesId = useId();
  const hintId = useId();
  const [queuesText, setQueuesText] = useState("");
  const [formError, setFormError] = useState<string | null>(null);
  const [issued, setIssued] = useState<IssuedToken | null>(null);
  const [revoking, setRevoking] = useState<ServiceToken | null>(null);
  const [announcement, setAnnouncement] = useState("");

  const list = useQuery(queueQueries.tokens(service, tenant));
  const refresh = () => queryClient.invalidateQueries({ queryKey: queueQueries.tokens(service, tenant).queryKey });

  const issue = useMutation({
    mutationFn: (queues: string[]) => queueApi.issueToken(service, tenant, queues),
    onSuccess: (t) => {
      setIssued(t);
      setQueuesText("");
      setAnnouncement("");
      void refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (t: ServiceToken) => queueApi.revokeToken(service, tenant, t.id),
    onSuccess: (_, t) => {
      setRevoking(null);
      setAnnouncement(`Token ${t.prefix}… is revoked; it stops working within seconds.`);
      if (issued?.id === t.id) setIssued(null);
      void refresh();
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const { queues, invalid } = parseQueueList(queuesText);
    if (invalid.length > 0) {
      setFormError(
        `Not a queue name: ${invalid.join(", ")}. Use lower-case letters, digits, dots, dashes and underscores.`,
      );
      return;
    }
    setFormError(null);
    setIssued(null);
    issue.mutate(queues);
  }

  return (
    <section aria-labelledby={headingId} className="space-y-4 rounded-md border border-line p-4">
      <div className="space-y-1">
        <h2 id={headingId} className="text-2xl font-bold">
          Service tokens
        </h2>
        <p className="text-muted">
          A service token lets <span className="font-mono">{service}</span> send to and lease from HMS-SVC queues of its
          agency (<code>Authorization: Bearer hms_svc_…</code>).
        </p>
      </div>

      <form onSubmit={submit} className="space-y-3" noValidate>
        <div className="flex flex-col gap-1">
          <label htmlFor={queuesId} className="font-bold">
            Queues (optional)
          </label>
          <span id={hintId} className="text-sm text-muted">
            Separate names with commas or spaces, e.g. <span className="font-mono">claim-review</span>. Leave empty to
            allow every queue of the agency.
          </span>
          <input
            id={queuesId}
            type="text"
            value={queuesText}
            onChange={(e) => setQueuesText(e.target.value)}
            aria-describedby={hintId}
            aria-invalid={formError ? true : undefined}
            className="max-w-xl rounded border-2 border-ink px-3 py-2 font-mono"
            autoComplete="off"
            spellCheck={false}
          />
          {formError && (
            <p role="alert" className="font-semibold text-error-dark">
              {formError}
            </p>
          )}
        </div>
        <button type="submit" className="btn btn-primary" disabled={issue.isPending}>
          {issue.isPending ? "Issuing…" : "Issue a token"}
        </button>
        {issue.isError && (
          <p role="alert" className="font-semibold text-error-dark">
            Couldn’t issue a token: {issue.error.message}
          </p>
        )}
      </form>

      {issued && (
        <div
          role="status"
          className="space-y-2 rounded-md border-l-8 border-success bg-success-lighter p-4"
          data-testid="issued-token"
        >
          <p className="font-bold">Token issued. Copy it now: it is shown only this once and cannot be recovered.</p>
          <p className="rounded bg-white p-2 font-mono text-sm break-all" data-testid="issued-token-secret">
            {issued.token}
          </p>
          <p className="text-sm">
            {issued.queues.length > 0 ? `Queues: ${issued.queues.join(", ")}.` : "Every queue of the agency."}
          </p>
          <div className="flex flex-wrap items-center gap-3">
            <CopyButton value={issued.token} label="Copy token" />
            <button type="button" className="btn btn-secondary px-3 py-1.5 text-sm" onClick={() => setIssued(null)}>
              I have stored it
            </button>
          </div>
        </div>
      )}

      <p role="status" className="text-sm font-semibold">
        {revoke.isError && !revoking ? `Couldn’t revoke the token: ${revoke.error.message}` : announcement}
      </p>

      {list.isPending ? (
        <LoadingStatus text="Loading the tokens…" />
      ) : !list.data ? (
        <LoadError what="the tokens" error={list.error} retry={() => list.refetch()} callbackPath="/admin/services" />
      ) : list.data.items.length === 0 ? (
        <p className="rounded-md bg-surface p-4">No tokens yet. Issue one above and give it to the service.</p>
      ) : (
        <DataTable
          labelledBy={headingId}
          columns={[
            { key: "token", label: "Token" },
            { key: "queues", label: "Queues" },
            { key: "issued", label: "Issued" },
            { key: "used", label: "Last used" },
            { key: "actions", label: <span className="sr-only">Actions</span> },
          ]}
        >
          {list.data.items.map((t) => (
            <tr key={t.id} className={`border-t border-line align-top ${t.revokedAt ? "text-muted" : ""}`}>
              <th scope="row" className="px-3 py-2 font-normal">
                <span className="font-mono">{t.prefix}…</span>
                {t.revokedAt && (
                  <span className="block text-xs font-semibold">
                    revoked <Ago iso={t.revokedAt} />
                  </span>
                )}
              </th>
              <td className="px-3 py-2 font-mono text-xs">{t.queues.length > 0 ? t.queues.join(", ") : "all"}</td>
              <td className="px-3 py-2 whitespace-nowrap">
                <Ago iso={t.createdAt} /> <span className="text-xs text-muted">by {t.createdBy}</span>
              </td>
              <td className="px-3 py-2 whitespace-nowrap">
                <Ago iso={t.lastUsedAt} never="never" />
              </td>
              <td className="px-3 py-2">
                {!t.revokedAt && (
                  <button
                    type="button"
                    className="btn btn-secondary px-2.5 py-1 text-xs"
                    aria-label={`Revoke token ${t.prefix}…`}
                    disabled={revoke.isPending}
                    onClick={() => {
                      revoke.reset();
                      setAnnouncement("");
                      setRevoking(t);
                    }}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}

      <ConfirmDialog
        open={revoking !== null}
        title="Revoke this token?"
        confirmLabel="Revoke"
        destructive
        pending={revoke.isPending}
        error={revoke.isError ? revoke.error.message : null}
        onCancel={() => {
          setRevoking(null);
          revoke.reset();
        }}
        onConfirm={() => revoking && revoke.mutate(revoking)}
      >
        {revoking && (
          <>
            <p>
              Calls with <span className="font-mono">{revoking.prefix}…</span> are refused within a few seconds (401).
              The service needs a new token to keep working.
            </p>
            <p className="text-muted">This is recorded in the audit log.</p>
          </>
        )}
      </ConfirmDialog>
    </section>
  );
}
