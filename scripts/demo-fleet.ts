/**
 * The demo fleet process (`npm start` runs it in demo mode): tiny services on 127.0.0.1 whose
 * /health answers can be switched to slow, failing, flapping or down from their service page.
 */
import { setMaxListeners } from "node:events";
import { startFleet } from "../lib/demo-fleet/fleet-server";
import { setting } from "../lib/config/env";
import { runDemoTraffic } from "../lib/demo-fleet/demo-traffic";

const base = setting("HMS_DEMO_FLEET_PORT");
const fleet = await startFleet(base);
console.log(`[demo-fleet] control on ${fleet.controlUrl}, instances on ports ${base + 1}–${base + 5}`);
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
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    ac.abort();
    void fleet.stop().then(() => process.exit(0));
  });
}
