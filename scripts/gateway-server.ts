/**
 * The data-plane process (issue 10, decision 023): the public port. It serves the gateway
 * (`/api/v1/gw/*`) and the HMS-SVC queue calls (`POST /api/v1/queues/…` with a bearer token) itself,
 * on plain node:http with no framework in the process, and passes everything else — pages, the
 * JSON API, sign-in, server-sent events — to the web process (Next.js) at HMS_WEB_URL.
 * `GET /api/metrics` merges both processes' series. Any number of these can run against one
 * database; they share breakers, limits and routing the way replicas always have (PostgreSQL +
 * LISTEN/NOTIFY).
 *   PORT=3000 HMS_WEB_URL=http://127.0.0.1:3001 tsx scripts/gateway-server.ts
 */
import http from "node:http";
import { loadEnv } from "../lib/config/env";
import { defaultGateway } from "../lib/gateway/default-gateway";
import { GATEWAY_PREFIX } from "../lib/gateway/gateway";
import { withEarlyAnswerGuard } from "../lib/http/early-answer";
import { passThroughProxy, type PassThrough } from "../lib/http/pass-through-proxy";
import { problemBody, PROBLEM_CONTENT_TYPE } from "../lib/http/problem";
import { handleQueueRequest, QUEUES_PREFIX } from "../lib/queue/queue-http";
import { endQueueAsyncCommitPool } from "../lib/queue/queue-store";
import { stopQueueWakeups } from "../lib/queue/queue-wakeups";
import { rateLimiter } from "../lib/ratelimit/shared-limiter";
import { logger } from "../lib/telemetry/logger";
import { servePublicMetrics } from "../lib/telemetry/public-metrics";
import { stopTrafficRecorder } from "../lib/traffic/traffic-recorder";

if (process.env.NODE_ENV !== "test") (process.env as Record<string, string>).NODE_ENV = "production";
const env = loadEnv();
const webUrl = env.HMS_WEB_URL ? new URL(env.HMS_WEB_URL) : null;

const gateway = defaultGateway();
// The database may still be starting: the gateway keeps trying; the pass-through works meanwhile.
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
rateLimiter(); // load the limits now, not on the first request

const passThrough: PassThrough | null = webUrl
  ? passThroughProxy(webUrl, {
      onError: (err) => logWebDown(err),
    })
  : null;

let webDownLoggedAt = 0;
function logWebDown(err: Error): void {
  const now = Date.now();
  if (now - webDownLoggedAt < 10_000) return;
  webDownLoggedAt = now;
  logger.warn({ error: err.message, web: webUrl?.origin }, "web process not answering; pages and the API get 503");
}

function notHere(res: http.ServerResponse): void {
  res.writeHead(404, { "content-type": PROBLEM_CONTENT_TYPE, "cache-control": "no-store" });
  res.end(JSON.stringify(problemBody(404, "not_found", "This process serves only the gateway and the queues.")));
}

function passOn(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (passThrough) passThrough.handle(req, res);
  else notHere(res);
}

// An early answer (401, 413, 429, …) to a body not yet read closes the connection cleanly after
// draining a bounded amount, so a keep-alive client's next request is never reset (decision 024).
const server = http.createServer(
  withEarlyAnswerGuard((req, res) => {
    const url = req.url ?? "/";
    if (url.startsWith(GATEWAY_PREFIX)) gateway.handle(req, res);
    else if (req.method === "POST" && url.startsWith(QUEUES_PREFIX)) {
      // Session callers (our own pages) fall through to the web process's routes.
      void handleQueueRequest(req, res).then((handled) => {
        if (!handled) passOn(req, res);
      });
    } else if (req.method === "GET" && (url === "/api/metrics" || url.startsWith("/api/metrics?"))) {
      void servePublicMetrics(req, res, webUrl);
    } else passOn(req, res);
  }),
);
if (passThrough) server.on("upgrade", passThrough.upgrade);
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(env.PORT, env.HMS_LISTEN_HOST, () =>
  logger.info({ port: env.PORT, web: webUrl?.origin ?? null }, "data plane listening"),
);

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    server.close();
    // The last seconds of traffic counts are flushed before the process goes.
    void Promise.allSettled([
      gateway.stop(),
      stopTrafficRecorder(),
      stopQueueWakeups(),
      endQueueAsyncCommitPool(),
    ]).finally(() => {
      passThrough?.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 5_000).unref();
  });
}
