"use client";

import Link from "next/link";
import { useEffect } from "react";

/** The fallback when a page fails to render: plain words, a retry, and a reference for support. */
export default function ErrorPage({ error, retry }: { error: unknown; retry: () => void }) {
  const digest =
    error instanceof Error && "digest" in error && typeof error.digest === "string" ? error.digest : undefined;

  useEffect(() => {
    console.error(error);
  }, [error]);

  return (
    <div role="alert" className="max-w-2xl space-y-4">
      <h1 className="text-4xl font-bold tracking-tight">Something went wrong</h1>
      <p className="text-lg">
        This page couldn’t be shown. Please try again; if it keeps happening, wait a few minutes and try once more. If
        you had just uploaded a document, check your list of claims to see whether it arrived.
      </p>
      {digest && (
        <p className="text-muted">
          Reference for support: <code className="font-mono">{digest}</code>
        </p>
      )}
      <p className="flex flex-wrap gap-3">
        <button type="button" className="btn btn-primary" onClick={() => retry()}>
          Try again
        </button>
        <Link href="/" className="btn btn-secondary">
          Go to the home page
        </Link>
      </p>
    </div>
  );
}
