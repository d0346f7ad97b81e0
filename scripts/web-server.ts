/**
 * The web process: one node:http server on PORT. `/api/v1/gw/*` goes to the gateway's lean data
 * plane (lib/gateway), the queue data plane (`POST /api/v1/queues/…` with a bearer token) to
 * lib/queue/queue-http.ts, everything else to Next.js (pages and the JSON API) — one port, one
 * process to scale, and hot paths never pay for Next's request pipeline (decisions 015, 019).
 *   tsx scripts/web-server.ts [--dev]
 */
import http from "node:http";
import next from "next";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadEnv } from "../lib/config/env";
import { defaultGateway } from "../lib/gateway/default-gateway";
import { GATEWAY_PREFIX } from "../lib/gateway/gateway";
import { handleQueueRequest, QUEUES_PREFIX } from "../lib/queue/queue-http";
import { endQueueAsyncCommitPool } from "../lib/queue/queue-store";
import { stopQueueWakeups } from "../lib/queue/queue-wakeups";
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
  else if (req.method === "POST" && req.url?.startsWith(QUEUES_PREFIX)) {
    // HMS-SVC queue data plane (send, lease, ack, nack with a bearer token), lean like the
    // gateway (decision 019); anything else there (session callers) falls through to Next.
    void handleQueueRequest(req, res).then((handled) => {
      if (!handled) void handle(req, res);
    });
  } else void handle(req, res);
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, () => logger.info({ port, dev }, "web listening"));

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    server.close();
    // The last seconds of traffic counts are flushed before the process goes.
    void Promise.allSettled([
      gateway.stop(),
      stopTrafficRecorder(),
      stopQueueWakeups(),
      endQueueAsyncCommitPool(),
    ]).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5_000).unref();
  });
}
