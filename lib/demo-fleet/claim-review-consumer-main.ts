/**
 * One `claim-review` consumer as its own process (the reliability test kills it with SIGKILL; an
 * operator can also run a reviewer by hand):
 *
 *   HMS_REVIEW_WEB_URL=http://127.0.0.1:3000 HMS_REVIEW_TOKEN=hms_svc_… \
 *     node --import tsx lib/demo-fleet/claim-review-consumer-main.ts
 *
 * The token comes from the environment, never argv (argv is visible to every user in `ps`).
 * Optional: HMS_REVIEW_VISIBILITY_SECONDS (30), HMS_REVIEW_WAIT_SECONDS (20), HMS_REVIEW_BATCH (4),
 * HMS_REVIEW_MIN_MS / HMS_REVIEW_MAX_MS (1000 / 4000), HMS_REVIEW_NEEDS_INFO_RATE (0.2),
 * HMS_REVIEW_NAME. Prints one JSON line per message handled; SIGTERM/SIGINT stop it gracefully.
 */
import { setMaxListeners } from "node:events";
import { z } from "zod";
import { runClaimReviewConsumer } from "./claim-review-consumer";

const num = (min: number, max: number, dflt: number) => z.coerce.number().min(min).max(max).default(dflt);
const cfg = z
  .object({
    HMS_REVIEW_WEB_URL: z.string().url(),
    HMS_REVIEW_TOKEN: z.string().startsWith("hms_svc_"),
    HMS_REVIEW_NAME: z.string().min(1).max(60).default("claim-review"),
    HMS_REVIEW_VISIBILITY_SECONDS: num(1, 3600, 30),
    HMS_REVIEW_WAIT_SECONDS: num(0, 20, 20),
    HMS_REVIEW_BATCH: num(1, 100, 4),
    HMS_REVIEW_MIN_MS: num(0, 600_000, 1_000),
    HMS_REVIEW_MAX_MS: num(0, 600_000, 4_000),
    HMS_REVIEW_NEEDS_INFO_RATE: num(0, 1, 0.2),
  })
  .parse(process.env);

const ac = new AbortController();
// Each review in progress waits on this signal (a batch may hold up to 100).
setMaxListeners(250, ac.signal);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => ac.abort());
process.stdout.write(JSON.stringify({ started: process.pid }) + "\n");
await runClaimReviewConsumer({
  webUrl: cfg.HMS_REVIEW_WEB_URL,
  token: cfg.HMS_REVIEW_TOKEN,
  name: cfg.HMS_REVIEW_NAME,
  signal: ac.signal,
  visibilitySeconds: cfg.HMS_REVIEW_VISIBILITY_SECONDS,
  waitSeconds: cfg.HMS_REVIEW_WAIT_SECONDS,
  batch: cfg.HMS_REVIEW_BATCH,
  reviewMs: { min: cfg.HMS_REVIEW_MIN_MS, max: Math.max(cfg.HMS_REVIEW_MIN_MS, cfg.HMS_REVIEW_MAX_MS) },
  needsInfoRate: cfg.HMS_REVIEW_NEEDS_INFO_RATE,
  log: (m) => process.stderr.write(`[${cfg.HMS_REVIEW_NAME}] ${m}\n`),
  onOutcome: (o) => process.stdout.write(JSON.stringify(o) + "\n"),
});
process.stdout.write(JSON.stringify({ stopped: process.pid }) + "\n");
