"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { z } from "zod";
import { claimDetailSchema, claimQueries, timelineEntrySchema, type ClaimDetail } from "../queries/claims";

/**
 * A claim page's live updates: an EventSource on `GET /api/v1/claims/<id>/events` (Server-Sent
 * Events) that writes what it hears into the React Query cache of the claim, so the status badge
 * and the timeline change without a reload. While the stream is up the page stops polling; when
 * it fails (the server refuses it, a proxy buffers it, the connection keeps dropping) the page
 * falls back to polling and tries the stream again a minute later. A decided claim no longer
 * changes: the stream is closed.
 */
export type LiveMode = "connecting" | "live" | "polling" | "complete";

/** How long to poll before trying the stream again after it failed. */
export const LIVE_RETRY_MS = 60_000;
/** Errors in a row (no event in between) before giving up on the stream for a while. */
const MAX_ERRORS = 3;

const liveEntry = timelineEntrySchema.extend({ id: z.string() });
export const snapshotEventSchema = claimDetailSchema.extend({ timeline: z.array(liveEntry) });
export const statusEventSchema = z.object({
  claim_id: z.string(),
  id: z.string(),
  status: z.string(),
  at: z.string(),
  note: z.string().nullish(),
  actor: z.string().nullish(),
});
export type StatusEvent = z.infer<typeof statusEventSchema>;

type Entry = ClaimDetail["timeline"][number] & { id?: string };

/** The cached claim after a status event (an entry already there — by id, or status and time — is not added twice). */
export function applyStatusEvent(claim: ClaimDetail, e: StatusEvent): ClaimDetail {
  const timeline = claim.timeline as Entry[];
  const known = timeline.some((t) => (t.id !== undefined ? t.id === e.id : t.status === e.status && t.at === e.at));
  const entry: Entry = { id: e.id, status: e.status, at: e.at, note: e.note ?? null, actor: e.actor ?? null };
  return {
    ...claim,
    status: e.status,
    updatedAt: e.at,
    timeline: known ? claim.timeline : [...timeline, entry],
  };
}

function parse<T>(schema: z.ZodType<T>, data: unknown): T | null {
  if (typeof data !== "string") return null;
  try {
    const r = schema.safeParse(JSON.parse(data));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

function eventSourceSupported(): boolean {
  return typeof window !== "undefined" && typeof window.EventSource !== "undefined";
}

export function useClaimLive(
  claimId: string,
  opts: { enabled: boolean },
): { mode: LiveMode; lastChange: StatusEvent | null } {
  const queryClient = useQueryClient();
  const [mode, setMode] = useState<LiveMode>("connecting");
  const [lastChange, setLastChange] = useState<StatusEvent | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!opts.enabled || !eventSourceSupported()) return;
    const key = claimQueries.detail(claimId).queryKey;
    const source = new EventSource(`/api/v1/claims/${encodeURIComponent(claimId)}/events`);
    let errors = 0;
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    let done = false;

    const fallBack = () => {
      if (done) return;
      done = true;
      source.close();
      setMode("polling");
      // Catch up at once, then poll until the stream is tried again.
      void queryClient.invalidateQueries({ queryKey: key });
      retryTimer = setTimeout(() => {
        setMode("connecting");
        setAttempt((n) => n + 1);
      }, LIVE_RETRY_MS);
    };

    source.addEventListener("snapshot", (ev) => {
      const snap = parse(snapshotEventSchema, (ev as MessageEvent).data);
      if (!snap) return;
      errors = 0;
      queryClient.setQueryData(key, snap);
      setMode(snap.status === "DECIDED" ? "complete" : "live");
      if (snap.status === "DECIDED") {
        done = true;
        source.close();
      }
    });
    source.addEventListener("status", (ev) => {
      const e = parse(statusEventSchema, (ev as MessageEvent).data);
      if (!e) return;
      errors = 0;
      queryClient.setQueryData<ClaimDetail>(key, (old) => (old ? applyStatusEvent(old, e) : old));
      setLastChange(e);
      setMode(e.status === "DECIDED" ? "complete" : "live");
      if (e.status === "DECIDED") {
        done = true;
        source.close();
      }
    });
    source.addEventListener("open", () => {
      // A resumed stream (Last-Event-ID) sends no snapshot: being open is being live.
      if (!done) setMode("live");
    });
    source.addEventListener("error", () => {
      if (done) return;
      errors++;
      // CLOSED: the server refused the stream (401, 404, not an event stream) — the browser will
      // not retry by itself. CONNECTING: it is retrying; give up after a few failures in a row.
      if (source.readyState === EventSource.CLOSED || errors >= MAX_ERRORS) fallBack();
      else setMode("connecting");
    });

    return () => {
      done = true;
      source.close();
      if (retryTimer) clearTimeout(retryTimer);
    };
  }, [claimId, opts.enabled, attempt, queryClient]);

  if (!opts.enabled) return { mode: "complete", lastChange };
  return { mode: eventSourceSupported() ? mode : "polling", lastChange };
}
