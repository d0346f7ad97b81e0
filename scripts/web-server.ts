/**
 * The web process: Next.js (pages and the JSON API) on a node:http server on PORT. `npm start` runs
 * it on an internal port behind the data-plane process (scripts/gateway-server.ts), which owns the
 * public port, serves the gateway and the queue calls itself and passes everything else here
 * (decisions 015, 019).
 *   PORT=3001 HMS_LISTEN_HOST=127.0.0.1 tsx scripts/web-server.ts [--dev]
 */
import http from "node:http";
import next from "next";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadEnv } from "../lib/config/env";
import { withEarlyAnswerGuard } from "../lib/http/early-answer";
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

const app = next({ dev, dir: root, port, hostname: env.HMS_LISTEN_HOST });
const handle = app.getRequestHandler();
await app.prepare();

// Early answers (401/413/415/… before the body is read) carry Connection: close and end without a reset.
const server = http.createServer(withEarlyAnswerGuard((req, res) => void handle(req, res)));
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, env.HMS_LISTEN_HOST, () => logger.info({ port, dev }, "web listening"));

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    server.close();
    // The last seconds of traffic counts are flushed before the process goes.
    void Promise.allSettled([stopTrafficRecorder(), stopQueueWakeups(), endQueueAsyncCommitPool()]).finally(() =>
      process.exit(0),
    );
    setTimeout(() => process.exit(0), 5_000).unref();
  });
}
