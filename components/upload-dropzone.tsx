"use client";

import { useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useCallback, useEffect, useId, useRef, useState, type DragEvent, type KeyboardEvent } from "react";
import { formatBytes } from "./format";
import type { ApiError } from "./queries/api-error";
import { Spinner } from "./query-states";
import { claimQueries, type ClaimCreated } from "./queries/claims";
import { StatusBadge } from "./status-badge";
import { compareDigest, newIdempotencyKey, uploadClaimDocument, type UploadHandle } from "./upload-request";

const DEFAULT_MAX_BYTES = 25 * 1024 * 1024;

type Phase =
  | { kind: "idle" }
  | { kind: "uploading"; file: File; loaded: number; total: number }
  | { kind: "checking"; file: File }
  | { kind: "done"; file: File; claim: ClaimCreated; digest: "match" | "mismatch" | "unknown" | "pending" }
  | {
      kind: "failed";
      file: File | null;
      message: string;
      retryable: boolean;
      signInAgain: boolean;
      /** The server looked at the document and said no (as opposed to: it never got there). */
      refused: boolean;
    }
  | { kind: "cancelled"; file: File };

/** Instant feedback before any byte is sent; the server's checks remain the authority. */
function precheck(file: File, maxBytes: number): string | null {
  const looksLikePdf = file.type === "application/pdf" || /\.pdf$/i.test(file.name);
  if (!looksLikePdf) {
    return `“${file.name}” is not a PDF. Choose a PDF file — its name ends in .pdf. If your claim is on paper or in another format, save or scan it as a PDF first.`;
  }
  if (file.size === 0) return `“${file.name}” is empty (0 bytes). Choose the PDF that contains your claim.`;
  if (file.size > maxBytes) {
    return `“${file.name}” is ${formatBytes(file.size)}, which is more than the ${formatBytes(maxBytes)} limit. Try saving it with a smaller file size, for example by scanning in black and white or at a lower resolution.`;
  }
  return null;
}

/** The server's problem `detail` is written for veterans; a few cases get our own fuller wording. */
function failureMessage(error: ApiError, retryAfterSeconds: number | null) {
  if (error.status === 0) {
    return {
      message:
        "We couldn't reach the server, so your document was not saved. Check your internet connection and try again.",
      retryable: true,
      signInAgain: false,
      refused: false,
    };
  }
  if (error.status === 401) {
    return {
      message: "Your session has ended, so your document was not saved. Sign in again, then upload it.",
      retryable: false,
      signInAgain: true,
      refused: false,
    };
  }
  if (error.code === "dependency_unavailable" || error.status === 503) {
    return {
      message: "Our system is busy right now and your document was not saved. Please try again in a moment.",
      retryable: true,
      signInAgain: false,
      refused: false,
    };
  }
  if (error.code === "rate_limited" || error.status === 429) {
    const wait = retryAfterSeconds
      ? ` Please wait ${retryAfterSeconds} second${retryAfterSeconds === 1 ? "" : "s"} and try again.`
      : " Please wait a minute and try again.";
    return { message: `${error.detail}${wait}`, retryable: true, signInAgain: false, refused: false };
  }
  const serverFault = error.status >= 500;
  return { message: error.detail, retryable: serverFault, signInAgain: false, refused: !serverFault };
}

/**
 * Drag-and-drop or pick a claim PDF; uploads it with real progress, a cancel button, and the
 * server's verdict in plain words. The file input stays the keyboard and screen-reader path.
 */
export function UploadDropzone({ maxBytes = DEFAULT_MAX_BYTES }: { maxBytes?: number }) {
  const id = useId();
  const inputId = `${id}-file`;
  const hintId = `${id}-hint`;
  const queryClient = useQueryClient();
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const [dragging, setDragging] = useState(false);
  const zoneRef = useRef<HTMLDivElement>(null);
  const uploadRef = useRef<UploadHandle | null>(null);
  /** One Idempotency-Key per file chosen; "Try again" reuses it so a lost 201 is never a second claim. */
  const attemptRef = useRef<{ file: File; key: string } | null>(null);

  const busy = phase.kind === "uploading" || phase.kind === "checking";

  const start = useCallback(
    async (file: File, reuseKey: boolean) => {
      const problem = precheck(file, maxBytes);
      if (problem) {
        setPhase({ kind: "failed", file: null, message: problem, retryable: false, signInAgain: false, refused: true });
        return;
      }
      if (!reuseKey || attemptRef.current?.file !== file) attemptRef.current = { file, key: newIdempotencyKey() };
      const key = attemptRef.current.key;

      setPhase({ kind: "uploading", file, loaded: 0, total: file.size });
      const handle = uploadClaimDocument(file, key, {
        onProgress: (loaded, total) =>
          setPhase((p) => (p.kind === "uploading" && p.file === file ? { ...p, loaded, total } : p)),
        onSent: () => setPhase((p) => (p.kind === "uploading" && p.file === file ? { kind: "checking", file } : p)),
      });
      uploadRef.current = handle;
      const outcome = await handle.result;
      if (uploadRef.current !== handle) return; // superseded or unmounted
      uploadRef.current = null;

      if (outcome.kind === "aborted") {
        setPhase({ kind: "cancelled", file });
        return;
      }
      if (outcome.kind === "failed") {
        setPhase({ kind: "failed", file, ...failureMessage(outcome.error, outcome.retryAfterSeconds) });
        return;
      }
      attemptRef.current = null;
      setPhase({ kind: "done", file, claim: outcome.claim, digest: "pending" });
      void queryClient.invalidateQueries({ queryKey: claimQueries.all() });
      const digest = await compareDigest(file, outcome.reprDigest);
      setPhase((p) => (p.kind === "done" && p.claim.claim_id === outcome.claim.claim_id ? { ...p, digest } : p));
    },
    [maxBytes, queryClient],
  );

  const choose = useCallback(
    (files: FileList | null) => {
      if (!files || files.length === 0) return;
      if (files.length > 1) {
        setPhase({
          kind: "failed",
          file: null,
          message: "Please add one PDF at a time. Combine your claim form and supporting records into a single PDF.",
          retryable: false,
          signInAgain: false,
          refused: true,
        });
        return;
      }
      const file = files[0];
      if (file) void start(file, false);
    },
    [start],
  );

  // Abort an upload still running when the page goes away; warn before closing the tab mid-upload.
  useEffect(() => {
    return () => {
      const handle = uploadRef.current;
      uploadRef.current = null;
      handle?.abort();
    };
  }, []);
  useEffect(() => {
    if (!busy) return;
    const onBeforeUnload = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => window.removeEventListener("beforeunload", onBeforeUnload);
  }, [busy]);

  // A file dropped next to the zone must not make the browser navigate away and open it.
  useEffect(() => {
    const outside = (e: globalThis.DragEvent) => !zoneRef.current?.contains(e.target as Node);
    const onDragOver = (e: globalThis.DragEvent) => {
      if (!outside(e)) return;
      setDragging(false); // also the fallback should a "dragleave" have gone missing
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "none";
    };
    const onDrop = (e: globalThis.DragEvent) => {
      if (outside(e)) e.preventDefault();
    };
    window.addEventListener("dragover", onDragOver);
    window.addEventListener("drop", onDrop);
    return () => {
      window.removeEventListener("dragover", onDragOver);
      window.removeEventListener("drop", onDrop);
    };
  }, []);

  const onDragEnter = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    if (!busy) setDragging(true);
  };
  const onDragOver = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = busy ? "none" : "copy";
  };
  const onDragLeave = (e: DragEvent<HTMLDivElement>) => {
    // Moving between the zone's own children fires dragleave too; only leaving the zone counts.
    if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
  };
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setDragging(false);
    if (!busy) choose(e.dataTransfer.files);
  };
  const onInputKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    // Space opens a file input natively; make Enter do the same in every browser.
    if (e.key === "Enter") {
      e.preventDefault();
      e.currentTarget.click();
    }
  };

  const statusText =
    phase.kind === "uploading"
      ? `Uploading ${phase.file.name}…`
      : phase.kind === "checking"
        ? "Checking your document…"
        : phase.kind === "done"
          ? `Upload complete. Claim ${phase.claim.claim_id} received.`
          : phase.kind === "cancelled"
            ? "Upload cancelled. Nothing was saved."
            : "";

  const percent =
    phase.kind === "uploading"
      ? Math.min(100, Math.floor((phase.loaded / Math.max(1, phase.total)) * 100))
      : phase.kind === "checking" || phase.kind === "done"
        ? 100
        : 0;

  return (
    <div className="space-y-4">
      <div
        ref={zoneRef}
        onDragEnter={onDragEnter}
        onDragOver={onDragOver}
        onDragLeave={onDragLeave}
        onDrop={onDrop}
        className={`rounded-lg border-2 border-dashed transition-colors has-[input:focus-visible]:outline-[3px] has-[input:focus-visible]:outline-offset-2 has-[input:focus-visible]:outline-focus has-[input:focus-visible]:outline-solid ${
          dragging ? "border-primary bg-primary-lighter" : "border-muted bg-surface"
        } ${busy ? "opacity-60" : ""}`}
      >
        <input
          id={inputId}
          type="file"
          accept="application/pdf,.pdf"
          className="sr-only"
          disabled={busy}
          aria-describedby={hintId}
          onKeyDown={onInputKeyDown}
          onChange={(e) => {
            choose(e.currentTarget.files);
            e.currentTarget.value = ""; // choosing the same file again must fire "change" again
          }}
        />
        <label
          htmlFor={inputId}
          className={`flex flex-col items-center gap-3 rounded-lg px-6 pt-8 pb-3 text-center ${
            busy ? "cursor-not-allowed" : "cursor-pointer"
          }`}
        >
          <svg
            aria-hidden="true"
            viewBox="0 0 24 24"
            className="h-12 w-12 text-primary"
            fill="none"
            stroke="currentColor"
          >
            <path
              strokeLinecap="round"
              strokeLinejoin="round"
              strokeWidth={1.6}
              d="M12 16V4m0 0-4 4m4-4 4 4M4 16v2a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-2"
            />
          </svg>
          {dragging ? (
            <span className="py-2.5 text-lg font-bold text-primary-dark">Drop your PDF to upload it</span>
          ) : (
            <span className="text-lg">
              <span className="btn btn-primary">Choose a PDF</span>{" "}
              <span className="mt-2 block sm:mt-0 sm:ml-2 sm:inline">or drag it here</span>
            </span>
          )}
        </label>
        <p id={hintId} className="px-6 pb-6 text-center text-muted">
          One PDF, up to {formatBytes(maxBytes)}. Password-protected PDFs can’t be opened, so remove the password first.
        </p>
      </div>

      <div className="space-y-3">
        <p role="status" aria-live="polite" className="text-lg font-bold empty:hidden">
          {statusText}
        </p>

        {(phase.kind === "uploading" || phase.kind === "checking") && (
          <div className="card space-y-3">
            <p className="font-semibold break-all">{phase.file.name}</p>
            <div
              role="progressbar"
              aria-label="Upload progress"
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={percent}
              aria-valuetext={
                phase.kind === "uploading"
                  ? `${percent}%, ${formatBytes(phase.loaded)} of ${formatBytes(phase.total)} sent`
                  : "Upload complete, checking the document"
              }
              className="h-4 w-full overflow-hidden rounded-full bg-surface ring-1 ring-line ring-inset"
            >
              <div className="h-full bg-primary transition-[width] duration-200" style={{ width: `${percent}%` }} />
            </div>
            {phase.kind === "uploading" ? (
              <div className="flex flex-wrap items-center justify-between gap-3">
                <p className="tabular-nums">
                  {percent}% · {formatBytes(phase.loaded)} of {formatBytes(phase.total)} sent
                </p>
                <button type="button" className="btn btn-secondary" onClick={() => uploadRef.current?.abort()}>
                  Cancel upload
                </button>
              </div>
            ) : (
              <p className="flex items-center gap-2 text-muted">
                <Spinner />
                Your document has been sent. We’re checking that it opens and is readable — this usually takes a few
                seconds.
              </p>
            )}
          </div>
        )}

        {phase.kind === "done" && (
          <div className="rounded-md border-l-8 border-success bg-success-lighter p-4 space-y-2">
            <p className="text-lg">
              We received <strong className="break-all">{phase.file.name}</strong> ({formatBytes(phase.file.size)}).
              Your claim number is <strong className="font-mono">{phase.claim.claim_id}</strong>.
            </p>
            <p className="flex items-center gap-2">
              Status: <StatusBadge status={phase.claim.status} />
            </p>
            {phase.digest === "match" && (
              <p className="text-sm">
                <span aria-hidden="true">✓ </span>The fingerprint (SHA-256) of the stored copy matches your file.
              </p>
            )}
            {phase.digest === "mismatch" && (
              <p className="text-sm font-semibold text-error-dark">
                The stored copy’s fingerprint does not match your file. Open the claim to check it, or upload the
                document again.
              </p>
            )}
            <p>
              <Link href={`/portal/claims/${encodeURIComponent(phase.claim.claim_id)}`} className="font-semibold">
                View claim {phase.claim.claim_id}
              </Link>
            </p>
          </div>
        )}

        <div role="alert">
          {phase.kind === "failed" && (
            <div className="rounded-md border-l-8 border-error-dark bg-error-lighter p-4 space-y-3">
              <p className="font-bold">
                {!phase.file
                  ? "That file can’t be uploaded."
                  : phase.refused
                    ? `We couldn’t accept “${phase.file.name}”.`
                    : `“${phase.file.name}” was not uploaded.`}
              </p>
              <p>{phase.message}</p>
              {(phase.retryable || phase.signInAgain) && (
                <p className="flex flex-wrap gap-3">
                  {phase.retryable && phase.file && (
                    <button
                      type="button"
                      className="btn btn-primary"
                      onClick={() => phase.file && void start(phase.file, true)}
                    >
                      Try again
                    </button>
                  )}
                  {phase.signInAgain && (
                    <a className="btn btn-primary" href="/signin?callbackUrl=%2Fportal">
                      Sign in again
                    </a>
                  )}
                </p>
              )}
            </div>
          )}
        </div>
      </div>
    </div>
  );
}
