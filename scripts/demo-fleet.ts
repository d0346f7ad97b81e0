/**
 * The demo fleet process (`npm start` runs it in demo mode): tiny services on 127.0.0.1 whose
 * /health answers can be switched to slow, failing, flapping or down from their service page,
 * demo gateway traffic, and one `claim-review` queue consumer per agency (tokens handed over by
 * `npm start` in HMS_DEMO_REVIEW_TOKENS).
 */
import { setMaxListeners } from "node:events";
import { startFleet } from "../lib/demo-fleet/fleet-server";
import { setting } from "../lib/config/env";
import { runDemoTraffic } from "../lib/demo-fleet/demo-traffic";
import { runDemoReviewers, takeDemoReviewTokens } from "../lib/demo-fleet/demo-reviewers";
import { fleetInstances } from "../lib/demo-fleet/fleet-spec";

// Read (and drop from the environment) before anything else runs.
const reviewTokens = takeDemoReviewTokens();

const base = setting("HMS_DEMO_FLEET_PORT");
const fleet = await startFleet(base);
const lastPort = base + Math.max(...fleetInstances.map((i) => i.portOffset));
console.log(`[demo-fleet] control on ${fleet.controlUrl}, instances on ports ${base + 1}–${lastPort}`);
const ac = new AbortController();
// Every loop (and its in-flight work) listens on this one signal; more than Node's default 10 is expected.
setMaxListeners(100, ac.signal);
// HMS_DEMO_TRAFFIC=0 keeps the fleet quiet (only health checks reach it).
if (process.env.HMS_DEMO_TRAFFIC !== "0") {
  void runDemoTraffic({
    webUrl: `http://127.0.0.1:${setting("PORT")}`,
    password: setting("HMS_DEMO_PASSWORD"),
    signal: ac.signal,
    log: (m) => console.log(`[demo-fleet] ${m}`),
  });
}
// HMS_DEMO_REVIEWERS=0 leaves claims QUEUED (for watching the stuck-claims watchdog from the start).
const reviewers =
  process.env.HMS_DEMO_REVIEWERS !== "0" && Object.keys(reviewTokens).length > 0
    ? runDemoReviewers({
        webUrl: `http://127.0.0.1:${setting("PORT")}`,
        tokens: reviewTokens,
        modeOf: fleet.modeOf,
        signal: ac.signal,
        log: (m) => console.log(`[demo-fleet] ${m}`),
      })
    : Promise.resolve();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    ac.abort();
    // Reviews in progress give their messages back (nack) before the process goes.
    const settled = Promise.race([reviewers, new Promise((r) => setTimeout(r, 5_000))]);
    void settled.then(() => fleet.stop()).then(() => process.exit(0));
  });
}
