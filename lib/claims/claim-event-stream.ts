import type { Principal } from "../auth/principal";
import { withTenant } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import type { RequestMeta } from "../http/request-context";
import { logger } from "../telemetry/logger";
import { claimFilter, inClaimScope } from "./claim-access";
import { claimEventsHub, type ClaimEventsHub } from "./claim-events-hub";
import { readClaimChanges, readClaimSnapshot, type ClaimSnapshot, type TimelineEvent } from "./claim-snapshot";

/**
 * `GET /api/v1/claims/<id>/events`: a claim's live timeline as Server-Sent Events.
 *
 * - `event: snapshot` first: the claim as `GET /api/v1/claims/<id>` shows it, timeline entries
 *   with their ids; its `id:` is the newest timeline entry's id.
 * - `event: status` for every status change after that, `id:` = the claim_events row id, data
 *   `{claim_id, id, status, at, note, actor}`.
 * - A client that reconnects with `Last-Event-ID` (EventSource does this by itself) gets the
 *   entries it missed as `status` events, and no snapshot.
 * - A comment line every HEARTBEAT_MS keeps proxies from closing an idle stream.
 *
 * Who: the owner veteran or an operator/admin of the claim's tenant — the same scope as
 * `GET /api/v1/claims/<id>`. A claim the caller cannot see is 404 before the stream opens; every
 * later read runs in the claim's tenant scope with the caller's filter, so a stream never shows
 * more than a fresh request would.
 */
export const HEARTBEAT_MS = 15_000;
export const RETRY_MS = 3_000;
/** After a failed re-read (database away), try again after this long even without a notification. */
const RETRY_READ_MS = 5_000;

export interface ClaimStreamRequest {
  principal: Principal;
  claimId: string;
  /** `Last-Event-ID` header (or `?lastEventId=`): resume after this timeline entry */
  lastEventId?: string | null | undefined;
  tenantParam?: string | undefined;
  meta: RequestMeta;
  /** aborted when the client goes away */
  signal: AbortSignal;
  heartbeatMs?: number;
  hub?: ClaimEventsHub;
}

export const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  // nginx and friends: pass each event through as it is written
  "x-accel-buffering": "no",
};

function frame(event: string, id: string | null, data: unknown): string {
  return `event: ${event}\n${id !== null ? `id: ${id}\n` : ""}data: ${JSON.stringify(data)}\n\n`;
}

export function statusEventData(claimId: string, e: TimelineEvent) {
  return { claim_id: claimId, id: e.id, status: e.status, at: e.at, note: e.note, actor: e.actor };
}

function notFound(): AppError {
  return new AppError("not_found", "No such claim.");
}

/** Opens the stream, or throws 404 (before any byte is sent) when the claim is not visible. */
export async function openClaimEventStream(r: ClaimStreamRequest): Promise<Response> {
  const hub = r.hub ?? claimEventsHub();
  const resumeFrom = r.lastEventId && /^\d{1,18}$/.test(r.lastEventId.trim()) ? r.lastEventId.trim() : null;
  const filter = claimFilter(r.principal);

  // Listen first, read second: a change committed between the two is then heard, not lost.
  let poke: () => void = () => {};
  let pokedEarly = false;
  const unsubscribe = await hub.subscribe(r.claimId, () => {
    pokedEarly = true;
    poke();
  });

  let first: { tenant: string; lastId: string; frames: string[] };
  try {
    first = await inClaimScope(
      r.principal,
      {
        meta: r.meta,
        view: `claim:${r.claimId}:events`,
        ...(r.tenantParam !== undefined ? { tenantParam: r.tenantParam } : {}),
      },
      async (c) => {
        const snap: ClaimSnapshot | null = await readClaimSnapshot(c, filter, r.claimId);
        if (!snap) throw notFound();
        if (resumeFrom === null) {
          const lastId = snap.timeline.at(-1)?.id ?? "0";
          return { tenant: snap.tenant, lastId, frames: [frame("snapshot", lastId, snap)] };
        }
        const missed = snap.timeline.filter((e) => BigInt(e.id) > BigInt(resumeFrom));
        // An id from the future (a forged or foreign header) must not silence the stream.
        const newest = snap.timeline.at(-1)?.id ?? "0";
        return {
          tenant: snap.tenant,
          lastId: missed.at(-1)?.id ?? (BigInt(resumeFrom) > BigInt(newest) ? newest : resumeFrom),
          frames: missed.map((e) => frame("status", e.id, statusEventData(r.claimId, e))),
        };
      },
    );
  } catch (err) {
    unsubscribe();
    throw err;
  }

  const encoder = new TextEncoder();
  const heartbeatMs = r.heartbeatMs ?? HEARTBEAT_MS;
  let lastId = first.lastId;
  let closed = false;
  let running = false;
  let again = false;
  let heartbeat: NodeJS.Timeout | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const write = (s: string) => {
    if (closed) return;
    try {
      controller.enqueue(encoder.encode(s));
    } catch {
      close();
    }
  };
  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    if (heartbeat) clearInterval(heartbeat);
    if (retryTimer) clearTimeout(retryTimer);
    r.signal.removeEventListener("abort", close);
    try {
      controller.close();
    } catch {
      /* already closed or cancelled */
    }
  };

  // Re-reads the claim after a notification; coalesces bursts, never runs twice at once.
  const pump = async (): Promise<void> => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const changes = await withTenant(first.tenant, (c) => readClaimChanges(c, filter, r.claimId, lastId));
        if (closed) return;
        if (!changes) {
          close(); // no longer visible to this caller
          return;
        }
        for (const e of changes.events) {
          write(frame("status", e.id, statusEventData(r.claimId, e)));
          lastId = e.id;
        }
      } while (again && !closed);
    } catch (err) {
      logger.warn({ err, claimId: r.claimId }, "claim events: re-read failed; retrying");
      if (!closed && !retryTimer) {
        retryTimer = setTimeout(() => {
          retryTimer = null;
          void pump();
        }, RETRY_READ_MS);
        retryTimer.unref();
      }
    } finally {
      running = false;
    }
  };

  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      write(`retry: ${RETRY_MS}\n\n`);
      for (const f of first.frames) write(f);
      heartbeat = setInterval(() => write(`: keep-alive ${new Date().toISOString()}\n\n`), heartbeatMs);
      heartbeat.unref();
      poke = () => void pump();
      // Something changed between subscribing and the first read: catch up now.
      if (pokedEarly) poke();
      if (r.signal.aborted) close();
      else r.signal.addEventListener("abort", close, { once: true });
    },
    cancel() {
      close();
    },
  });

  return new Response(stream, { status: 200, headers: SSE_HEADERS });
}
