/**
 * The web process: one node:http server on PORT. `/api/v1/gw/*` goes to the gateway's lean data
 * plane (lib/gateway), everything else to Next.js (pages and the JSON API) — one port, one
 * process to scale, and gateway calls never pay for Next's request pipeline (decision 015).
 *   tsx scripts/web-server.ts [--dev]
 */
import http from "node:http";
import next from "next";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadEnv } from "../lib/config/env";
import { defaultGateway } from "../lib/gateway/default-gateway";
import { GATEWAY_PREFIX } from "../lib/gateway/gateway";
import { logger } from "../lib/telemetry/logger";
import { stopTrafficRecorder } from "../lib/traffic/traffic-recorder";

const dev = process.argv.includes("--dev");
// What `next start` / `next dev` would set (React and Next pick their builds from it).
(process.env as Record<string, string>).NODE_ENV = dev ? "development" : "production";
const env = loadEnv();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const port = env.PORT;

const app = next({ dev, dir: root, port, hostname: "0.0.0.0" });
const handle = app.getRequestHandler();
await app.prepare();

const gateway = defaultGateway();
// The database may still be starting: the gateway keeps trying, pages come up meanwhile.
async function startGateway(delay = 500): Promise<void> {
  try {
    await gateway.start();
    logger.info("gateway ready");
  } catch (err) {
    logger.warn({ err }, "gateway could not load the registry yet; retrying");
    setTimeout(() => void startGateway(Math.min(delay * 2, 10_000)), delay).unref();
  }
}
void startGateway();

const server = http.createServer((req, res) => {
  if (req.url?.startsWith(GATEWAY_PREFIX)) gateway.handle(req, res);
  else void handle(req, res);
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, () => logger.info({ port, dev }, "web listening"));

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    server.close();
    // The last seconds of traffic counts are flushed before the process goes.
    void Promise.allSettled([gateway.stop(), stopTrafficRecorder()]).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5_000).unref();
  });
}
