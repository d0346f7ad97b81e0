/**
 * The practical ceiling for the gateway benchmark: a bare node:http streaming reverse proxy and
 * nothing else — no authentication, rate limit, routing table, breaker, tracing, metrics or log.
 * Keep-alive agent with the gateway's pool settings; the request is piped to the upstream and
 * the answer piped back. Run as its own process:
 *   node --import tsx scripts/bench/bare-proxy.ts <listen port|0> <upstream port>
 * Prints `listening <port>` on stdout once it accepts connections.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

const listenPort = Number(process.argv[2] ?? 0);
const upstreamPort = Number(process.argv[3]);
if (!Number.isInteger(upstreamPort) || upstreamPort <= 0) throw new Error("usage: bare-proxy <port> <upstream port>");

const agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: "lifo" });

const server = http.createServer((req, res) => {
  const up = http.request(
    { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  up.on("error", () => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502).end();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(listenPort, "127.0.0.1", () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(0));
