import type pg from "pg";
import { z } from "zod";
import { issueServiceToken, revokeServiceToken } from "../auth/service-token-admin";
import { withTenant } from "../db/tenant-scope";
import { isAppError } from "../http/app-error";
import { CLAIM_REVIEW_QUEUE, runClaimReviewConsumer, type ReviewOutcome } from "./claim-review-consumer";
import { fleetInstances, fleetServices, type FleetMode } from "./fleet-spec";

/**
 * The demo fleet's reviewers (demo mode only): one `claim-review` queue consumer per tenant that
 * has a `claim-review` fleet service, each with its own service token.
 *
 * `npm start` issues the tokens (issueDemoReviewTokens, audited as actor `demo-fleet`), revoking
 * the ones it issued on an earlier start, and hands them to the demo fleet process in one
 * environment variable (JSON `{tenant: token}`), never on a command line or in a log. The fleet
 * process reads and removes it (takeDemoReviewTokens) and runs the consumers (runDemoReviewers).
 * A reviewer pauses while every one of its tenant's claim-review instances is switched to
 * `down` or `fail` — so an operator can make claims get stuck and watch the watchdog flag them.
 */
export const DEMO_REVIEW_TOKENS_ENV = "HMS_DEMO_REVIEW_TOKENS";
export const DEMO_TOKEN_ISSUER = "demo-fleet";

const tokensSchema = z.record(z.string(), z.string().regex(/^hms_svc_[A-Za-z0-9_-]{20,100}$/));
export type DemoReviewTokens = z.infer<typeof tokensSchema>;

/** Tenants whose demo fleet includes a `claim-review` service. */
export function reviewerTenants(): string[] {
  return [...new Set(fleetServices.filter((s) => s.name === CLAIM_REVIEW_QUEUE).map((s) => s.tenant))];
}

/**
 * Revokes the reviewer tokens an earlier start issued and issues fresh ones, one per tenant
 * (scoped to the `claim-review` queue). `db` may be an all-tenants pool: each tenant's work runs
 * in that tenant's scope. A tenant whose claim-review service was removed is skipped.
 */
export async function issueDemoReviewTokens(
  db: pg.Pool,
  log: (m: string) => void = () => {},
  tenants: readonly string[] = reviewerTenants(),
): Promise<DemoReviewTokens> {
  const out: DemoReviewTokens = {};
  for (const tenantId of tenants) {
    try {
      out[tenantId] = await withTenant(
        tenantId,
        async (c) => {
          const { rows } = await c.query<{ id: string }>(
            `SELECT t.id FROM service_tokens t JOIN services s ON s.id = t.service_id
              WHERE t.tenant_id = $1 AND s.name = $2 AND t.created_by = $3 AND t.revoked_at IS NULL`,
            [tenantId, CLAIM_REVIEW_QUEUE, DEMO_TOKEN_ISSUER],
          );
          for (const r of rows) {
            await revokeServiceToken(c, {
              tenantId,
              serviceName: CLAIM_REVIEW_QUEUE,
              tokenId: r.id,
              actor: DEMO_TOKEN_ISSUER,
            });
          }
          const issued = await issueServiceToken(c, {
            tenantId,
            serviceName: CLAIM_REVIEW_QUEUE,
            queues: [CLAIM_REVIEW_QUEUE],
            createdBy: DEMO_TOKEN_ISSUER,
          });
          return issued.token;
        },
        db,
      );
    } catch (err) {
      if (isAppError(err) && err.code === "not_found") {
        log(`no claim-review service in ${tenantId}; its demo reviewer is off`);
        continue;
      }
      throw err;
    }
  }
  return out;
}

/** Reads the tokens handed over by `npm start` and removes them from this process's environment. */
export function takeDemoReviewTokens(env: Record<string, string | undefined> = process.env): DemoReviewTokens {
  const raw = env[DEMO_REVIEW_TOKENS_ENV];
  delete env[DEMO_REVIEW_TOKENS_ENV];
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${DEMO_REVIEW_TOKENS_ENV} is not valid JSON`);
  }
  const r = tokensSchema.safeParse(parsed);
  if (!r.success) throw new Error(`${DEMO_REVIEW_TOKENS_ENV} must map tenant ids to service tokens`);
  return r.data;
}

/** True while every claim-review instance of `tenant` is switched to down or fail. */
export function reviewerSwitchedOff(tenant: string, modeOf: (key: string) => FleetMode | undefined): boolean {
  const keys = fleetInstances.filter((i) => i.service === CLAIM_REVIEW_QUEUE && i.tenant === tenant).map((i) => i.key);
  return keys.length > 0 && keys.every((k) => ["down", "fail"].includes(modeOf(k) ?? "ok"));
}

export interface DemoReviewersOptions {
  webUrl: string;
  tokens: DemoReviewTokens;
  modeOf: (key: string) => FleetMode | undefined;
  signal: AbortSignal;
  log?: (m: string) => void;
}

/** Runs one consumer per tenant until `signal` aborts; resolves when all have stopped. */
export async function runDemoReviewers(o: DemoReviewersOptions): Promise<void> {
  const log = o.log ?? (() => {});
  await Promise.all(
    Object.entries(o.tokens).map(([tenant, token]) => {
      let announced = false;
      let wasPaused = false;
      return runClaimReviewConsumer({
        webUrl: o.webUrl,
        token,
        name: `claim-review (${tenant})`,
        signal: o.signal,
        log: (m) => log(`reviewer ${tenant}: ${m}`),
        paused: () => {
          const paused = reviewerSwitchedOff(tenant, o.modeOf);
          if (paused !== wasPaused) log(`reviewer ${tenant} ${paused ? "paused (instances down)" : "resumed"}`);
          wasPaused = paused;
          return paused;
        },
        onOutcome: ({ claimId, outcome }: { claimId: string | null; outcome: ReviewOutcome }) => {
          if (!announced && (outcome === "DECIDED" || outcome === "NEEDS_INFO")) {
            announced = true;
            log(`reviewer ${tenant} is reviewing claims (first: ${claimId} → ${outcome})`);
          }
        },
      });
    }),
  );
}
