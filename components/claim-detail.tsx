"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { ClaimTimeline } from "./claim-timeline";
import { useClaimLive, type LiveMode } from "./claims/use-claim-live";
import { CopyButton } from "./copy-button";
import { formatBytes, formatDateTime } from "./format";
import { isApiError } from "./queries/api-error";
import { claimQueries, CLAIM_POLL_MS } from "./queries/claims";
import { LoadingStatus } from "./query-states";
import { StatusBadge, statusLabel } from "./status-badge";

/** Plain words for the feature names intake records (lib/documents/risky-features.ts). */
const riskyFeatureWords: Record<string, string> = {
  aa: "automatic actions",
  embeddedfile: "attached files",
  gotoe: "links into attached files",
  gotor: "links to other files",
  importdata: "a data import action",
  javascript: "JavaScript",
  launch: "actions that open other programs",
  openaction: "an action that runs when opened",
  richmedia: "embedded media",
  submitform: "a form that sends data",
  xfa: "XFA forms",
};

function describeFeature(f: string): string {
  return riskyFeatureWords[f.toLowerCase()] ?? f.replace(/[_-]+/g, " ");
}

/** Says how fresh the timeline is: live (server-sent events), checking periodically, or complete. */
function LiveIndicator({ mode }: { mode: LiveMode }) {
  if (mode === "complete") return <p className="text-sm text-muted">This claim is complete.</p>;
  if (mode === "live") {
    return (
      <p className="flex items-center gap-2 text-sm font-semibold text-success-dark" data-live-mode="live">
        <span aria-hidden="true" className="relative flex h-2.5 w-2.5">
          <span className="absolute inline-flex h-full w-full animate-ping rounded-full bg-success opacity-60 motion-reduce:hidden" />
          <span className="relative inline-flex h-2.5 w-2.5 rounded-full bg-success" />
        </span>
        Live — changes appear here as they happen.
      </p>
    );
  }
  if (mode === "connecting") {
    return (
      <p className="text-sm text-muted" data-live-mode="connecting">
        Connecting for live updates…
      </p>
    );
  }
  return (
    <p className="text-sm text-muted" data-live-mode="polling">
      Live updates are unavailable right now; this page checks for news every {CLAIM_POLL_MS / 1000} seconds.
    </p>
  );
}

/**
 * One claim: status and timeline — updated live over server-sent events, or polled every 10 s when
 * the stream is unavailable — and the facts of the stored document.
 */
export function ClaimDetail({ claimId }: { claimId: string }) {
  const detail = claimQueries.detail(claimId);
  // The claim's status (same cache entry, never polls itself): a stream is worth opening only
  // once the claim has loaded and while it can still change.
  const status = useQuery({ ...detail, refetchInterval: false, select: (c) => c.status });
  const live = useClaimLive(claimId, { enabled: status.data !== undefined && status.data !== "DECIDED" });
  // While the stream is up, the cache is kept current by it; polling resumes when it is not.
  const query = useQuery({
    ...detail,
    refetchInterval: (q) => (live.mode === "live" || q.state.data?.status === "DECIDED" ? false : CLAIM_POLL_MS),
  });

  if (query.isPending) {
    return (
      <div className="space-y-6">
        <h1 className="font-mono text-4xl font-bold tracking-tight">{claimId}</h1>
        <LoadingStatus text="Loading your claim…" />
      </div>
    );
  }

  if (!query.data) {
    const err = query.error;
    const notFound = isApiError(err) && err.status === 404;
    const sessionEnded = isApiError(err) && err.status === 401;
    return (
      <div className="space-y-6">
        <h1 className="font-mono text-4xl font-bold tracking-tight">{claimId}</h1>
        <div role="alert" className="space-y-3 rounded-md border-l-8 border-error-dark bg-error-lighter p-4">
          <p className="font-bold">{notFound ? "We couldn’t find this claim." : "We couldn’t load this claim."}</p>
          <p>
            {notFound
              ? `There is no claim ${claimId} on your account. Check the number, or find it in your list of claims.`
              : sessionEnded
                ? "Your session has ended. Please sign in again."
                : (err?.message ?? "Please try again in a moment.")}
          </p>
          <p className="flex flex-wrap gap-3">
            {!notFound && !sessionEnded && (
              <button type="button" className="btn btn-secondary" onClick={() => void query.refetch()}>
                Try again
              </button>
            )}
            {sessionEnded ? (
              <a
                className="btn btn-primary"
                href={`/signin?callbackUrl=${encodeURIComponent(`/portal/claims/${claimId}`)}`}
              >
                Sign in again
              </a>
            ) : (
              <Link className="btn btn-primary" href="/portal">
                Go to my claims
              </Link>
            )}
          </p>
        </div>
      </div>
    );
  }

  const claim = query.data;
  const doc = claim.document;
  const risky = doc.riskyFeatures ?? [];
  // Only ever link to this site (the API sends a relative path).
  const downloadUrl =
    doc.url.startsWith("/") && !doc.url.startsWith("//")
      ? doc.url
      : `/api/v1/claims/${encodeURIComponent(claim.claim_id)}/document`;

  return (
    <div className="space-y-8">
      <header className="space-y-3">
        <p className="text-muted">Disability claim</p>
        <div className="flex flex-wrap items-center gap-4">
          <h1 className="font-mono text-4xl font-bold tracking-tight">{claim.claim_id}</h1>
          <StatusBadge status={claim.status} />
        </div>
        <p className="text-muted">
          Submitted <time dateTime={claim.createdAt}>{formatDateTime(claim.createdAt)}</time>
          {claim.updatedAt && claim.updatedAt !== claim.createdAt && (
            <>
              {" "}
              · last updated <time dateTime={claim.updatedAt}>{formatDateTime(claim.updatedAt)}</time>
            </>
          )}
        </p>
        <p role="status" aria-live="polite" className="sr-only">
          {live.lastChange ? `Status updated: ${statusLabel(live.lastChange.status)}.` : ""}
        </p>
        {query.isRefetchError && live.mode !== "live" && (
          <p role="status" className="text-sm font-semibold text-error-dark">
            We couldn’t refresh this page just now; the information below may be out of date. We’ll keep trying.
          </p>
        )}
      </header>

      <div className="grid gap-8 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <section aria-labelledby="timeline-heading" className="card space-y-5">
          <div className="space-y-1">
            <h2 id="timeline-heading" className="text-2xl font-bold">
              Timeline
            </h2>
            <LiveIndicator mode={claim.status === "DECIDED" ? "complete" : live.mode} />
          </div>
          <ClaimTimeline timeline={claim.timeline} currentStatus={claim.status} labelledBy="timeline-heading" />
        </section>

        <section aria-labelledby="document-heading" className="card space-y-5">
          <h2 id="document-heading" className="text-2xl font-bold">
            Your document
          </h2>
          <dl className="space-y-4">
            <div>
              <dt className="font-bold">Pages</dt>
              <dd>{doc.pageCount ?? "—"}</dd>
            </div>
            <div>
              <dt className="font-bold">Size</dt>
              <dd>
                {formatBytes(doc.sizeBytes)}
                {doc.sizeBytes >= 1024 && <span className="text-muted"> ({doc.sizeBytes.toLocaleString()} bytes)</span>}
              </dd>
            </div>
            <div>
              <dt className="font-bold">Fingerprint (SHA-256)</dt>
              <dd className="space-y-2">
                <code className="block rounded bg-surface px-2 py-1 font-mono text-sm break-all">{doc.sha256}</code>
                <CopyButton value={doc.sha256} label="Copy fingerprint" />
              </dd>
            </div>
            <div>
              <dt className="font-bold">Active content</dt>
              <dd>
                {risky.length === 0
                  ? "None found (no scripts or attached files)."
                  : `Noted for reviewers: ${risky.map(describeFeature).join(", ")}.`}
              </dd>
            </div>
          </dl>
          <p>
            <a href={downloadUrl} download={`${claim.claim_id}.pdf`} className="btn btn-secondary">
              Download your PDF
              <span className="sr-only"> ({formatBytes(doc.sizeBytes)})</span>
            </a>
          </p>
        </section>
      </div>
    </div>
  );
}
