import { isApiError } from "./queries/api-error";

/** The small turning circle beside "Loading…" words (decorative: the words say it). */
export function Spinner() {
  return (
    <span
      aria-hidden="true"
      className="inline-block h-4 w-4 animate-spin rounded-full border-2 border-primary border-t-transparent"
    />
  );
}

/** A query's first load: a spinner and the caller's words ("Loading the breakers…"), announced politely. */
export function LoadingStatus({ text }: { text: string }) {
  return (
    <p role="status" className="flex items-center gap-2 text-muted">
      <Spinner />
      {text}
    </p>
  );
}

/**
 * A query that has no data to show: "We couldn’t load {what}." with the error's words and
 * "Try again", or — when the session has ended (401) — "Sign in again", back to `callbackPath`.
 */
export function LoadError({
  what,
  error,
  retry,
  callbackPath,
  fallback = "Please try again.",
}: {
  /** "the breakers", "your claims" */
  what: string;
  error: Error | null;
  retry: () => unknown;
  /** where sign-in returns to, e.g. "/circuits" */
  callbackPath: string;
  /** said when the error has no message of its own */
  fallback?: string;
}) {
  const sessionEnded = isApiError(error) && error.status === 401;
  return (
    <div role="alert" className="space-y-3 rounded-md border-l-8 border-error-dark bg-error-lighter p-4">
      <p className="font-bold">{`We couldn’t load ${what}.`}</p>
      <p>{sessionEnded ? "Your session has ended. Please sign in again." : (error?.message ?? fallback)}</p>
      {sessionEnded ? (
        <a className="btn btn-primary" href={`/signin?callbackUrl=${encodeURIComponent(callbackPath)}`}>
          Sign in again
        </a>
      ) : (
        <button type="button" className="btn btn-secondary" onClick={() => void retry()}>
          Try again
        </button>
      )}
    </div>
  );
}
