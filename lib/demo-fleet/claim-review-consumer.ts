import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";

/**
 * The demo fleet's `claim-review` consumer (issue 5): a reviewer service as any registered service
 * would write one, over HTTP with its service token only.
 *
 *   loop: long-poll `POST /api/v1/queues/claim-review/lease` (waitSeconds 20, visibility 30)
 *   each message {claimId}:
 *     1. `POST /api/v1/claims/<id>/status {"status":"IN_REVIEW","from":["QUEUED"]}`
 *        - 200 (changed or not: a redelivery after a crash mid-review finds it IN_REVIEW) → go on
 *        - 409 → the claim is already past review (an earlier delivery finished it) → ack, done
 *     2. "review" for 1–4 s
 *     3. `… {"status":"DECIDED"|"NEEDS_INFO","from":["IN_REVIEW"]}` (~80 % / ~20 %); a 409 here
 *        means another delivery decided first → ack
 *     4. ack
 *   any other failure → nack with back-off (the queue dead-letters after max attempts).
 *
 * Safe under redelivery: every step is an idempotent transition with a precondition, so a
 * message processed twice (lease expired, consumer killed) has the effect of once. On stop
 * (signal) it stops leasing, abandons reviews in progress and gives their messages back at once
 * (nack, no delay) so another consumer takes them.
 */
export const CLAIM_REVIEW_QUEUE = "claim-review";

const leaseAnswer = z.object({
  messages: z.array(z.object({ id: z.string(), payload: z.unknown(), attempts: z.number() })),
});
const reviewPayload = z.object({ claimId: z.string().regex(/^CLM-\d{1,18}$/) });

export type ReviewOutcome = "DECIDED" | "NEEDS_INFO" | "already-done" | "failed" | "abandoned";

export interface ClaimReviewConsumerOptions {
  /** base URL of the web tier, e.g. http://127.0.0.1:3000 */
  webUrl: string;
  /** a service token (`hms_svc_…`) of the tenant's `claim-review` service */
  token: string;
  /** shown in logs, notes and the consumer's identity (e.g. the tenant) */
  name?: string;
  signal: AbortSignal;
  log?: (msg: string) => void;
  waitSeconds?: number;
  visibilitySeconds?: number;
  /** messages leased (and reviewed concurrently) per call */
  batch?: number;
  reviewMs?: { min: number; max: number };
  /** share of reviews that end NEEDS_INFO (default 0.2) */
  needsInfoRate?: number;
  /** while true, nothing is leased (the demo's "claim-review instance is down") */
  paused?: () => boolean;
  random?: () => number;
  /** called once per message handled */
  onOutcome?: (o: { messageId: string; claimId: string | null; outcome: ReviewOutcome }) => void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
}

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** Back-off for a failed message: 5 s, 10 s, 20 s, … capped at 5 minutes. */
export function nackDelaySeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));
}

export async function runClaimReviewConsumer(o: ClaimReviewConsumerOptions): Promise<void> {
  const waitSeconds = o.waitSeconds ?? 20;
  const visibilitySeconds = o.visibilitySeconds ?? 30;
  const batch = o.batch ?? 4;
  const reviewMs = o.reviewMs ?? { min: 1_000, max: 4_000 };
  const needsInfoRate = o.needsInfoRate ?? 0.2;
  const random = o.random ?? Math.random;
  const name = o.name ?? "claim-review";
  const log = o.log ?? (() => {});
  const base = o.webUrl.replace(/\/+$/, "");

  async function call(path: string, body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${o.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (res.status === 204) return null;
    const text = await res.text();
    if (!res.ok) {
      let code: string | null = null;
      try {
        code = (JSON.parse(text) as { code?: string }).code ?? null;
      } catch {
        /* not problem+json */
      }
      throw new HttpError(res.status, code, `${path}: ${res.status} ${code ?? text.slice(0, 200)}`);
    }
    return text ? (JSON.parse(text) as unknown) : null;
  }

  const queuePath = `/api/v1/queues/${CLAIM_REVIEW_QUEUE}`;
  const ack = (id: string) => call(`${queuePath}/messages/${id}/ack`, {}, 10_000);
  const nack = (id: string, delaySeconds: number, error: string) =>
    call(`${queuePath}/messages/${id}/nack`, { delaySeconds, error: error.slice(0, 500) }, 10_000);
  const move = (claimId: string, status: string, from: string[], note: string) =>
    call(`/api/v1/claims/${encodeURIComponent(claimId)}/status`, { status, from, note }, 10_000);

  /** Ack that tolerates "someone else holds it now" (our lease ran out and it was redelivered). */
  async function settle(id: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof HttpError && (err.code === "message_not_leased" || err.status === 404)) return;
      throw err;
    }
  }

  async function handle(m: { id: string; payload: unknown; attempts: number }): Promise<void> {
    const parsed = reviewPayload.safeParse(m.payload);
    if (!parsed.success) {
      // Not ours to fix: back off; after max attempts the queue moves it to dead letters.
      await settle(m.id, () => nack(m.id, nackDelaySeconds(m.attempts), "payload has no claimId"));
      o.onOutcome?.({ messageId: m.id, claimId: null, outcome: "failed" });
      return;
    }
    const { claimId } = parsed.data;
    let outcome: ReviewOutcome;
    try {
      try {
        await move(claimId, "IN_REVIEW", ["QUEUED"], `Review started by ${name}`);
      } catch (err) {
        if (err instanceof HttpError && err.code === "claim_transition_invalid") {
          await settle(m.id, () => ack(m.id));
          o.onOutcome?.({ messageId: m.id, claimId, outcome: "already-done" });
          return;
        }
        throw err;
      }
      const span = Math.max(0, reviewMs.max - reviewMs.min);
      await sleep(reviewMs.min + Math.floor(random() * span), undefined, { signal: o.signal });
      const decision = random() < needsInfoRate ? "NEEDS_INFO" : "DECIDED";
      const note =
        decision === "DECIDED"
          ? `Decision made by ${name}`
          : `${name} needs more information: please upload your service records`;
      outcome = decision;
      try {
        await move(claimId, decision, ["IN_REVIEW"], note);
      } catch (err) {
        if (!(err instanceof HttpError && err.code === "claim_transition_invalid")) throw err;
        outcome = "already-done"; // another delivery decided first
      }
      await settle(m.id, () => ack(m.id));
    } catch (err) {
      if (o.signal.aborted) {
        await settle(m.id, () => nack(m.id, 0, "consumer stopping")).catch(() => {});
        o.onOutcome?.({ messageId: m.id, claimId, outcome: "abandoned" });
        return;
      }
      const why = err instanceof Error ? err.message : String(err);
      log(`${claimId}: ${why}; giving it back`);
      await settle(m.id, () => nack(m.id, nackDelaySeconds(m.attempts), why)).catch(() => {});
      o.onOutcome?.({ messageId: m.id, claimId, outcome: "failed" });
      return;
    }
    o.onOutcome?.({ messageId: m.id, claimId, outcome });
  }

  let retryMs = RETRY_MIN_MS;
  let lastComplaint = "";
  while (!o.signal.aborted) {
    if (o.paused?.()) {
      await sleep(1_000, undefined, { signal: o.signal }).catch(() => {});
      continue;
    }
    let messages: z.infer<typeof leaseAnswer>["messages"];
    try {
      const answer = await call(
        `${queuePath}/lease`,
        { max: batch, visibilitySeconds, waitSeconds },
        (waitSeconds + 15) * 1000,
        o.signal,
      );
      messages = leaseAnswer.parse(answer).messages;
      retryMs = RETRY_MIN_MS;
      lastComplaint = "";
    } catch (err) {
      if (o.signal.aborted) break;
      const why = err instanceof Error ? err.message : String(err);
      if (why !== lastComplaint) log(`lease failed (${why}); retrying`);
      lastComplaint = why;
      // A refused token will not heal by itself quickly: wait the longest.
      const wait = err instanceof HttpError && (err.status === 401 || err.status === 403) ? RETRY_MAX_MS : retryMs;
      retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
      await sleep(wait, undefined, { signal: o.signal }).catch(() => {});
      continue;
    }
    if (o.paused?.() && messages.length > 0) {
      // Switched off while the long poll was waiting: hand the messages straight back.
      await Promise.all(messages.map((m) => settle(m.id, () => nack(m.id, 0, "reviewer paused")).catch(() => {})));
      continue;
    }
    await Promise.all(messages.map(handle));
  }
}
