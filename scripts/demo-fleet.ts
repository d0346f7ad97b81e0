/**
 * The demo fleet process (`npm start` runs it in demo mode): tiny services on 127.0.0.1 whose
 * /health answers can be switched to slow, failing, flapping or down from their service page.
 */
import { startFleet } from "../lib/demo-fleet/fleet-server";
import { setting } from "../lib/config/env";

const base = setting("HMS_DEMO_FLEET_PORT");
const fleet = await startFleet(base);
console.log(`[demo-fleet] control on ${fleet.controlUrl}, instances on ports ${base + 1}–${base + 5}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void fleet.stop().then(() => process.exit(0));
  });
}
