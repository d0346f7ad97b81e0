/**
 * A tiny JSON upstream for the gateway benchmark, run as its own process so it never shares an
 * event loop with a proxy or a load generator:
 *   node --import tsx scripts/bench/upstream-server.ts <port|0>
 * Answers every request with `200 {"ok":true}` (draining any body first), keeps connections
 * alive, and prints `listening <port>` on stdout once it accepts connections.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

const BODY = Buffer.from('{"ok":true}');
const port = Number(process.argv[2] ?? 0);

const server = http.createServer((req, res) => {
  const answer = () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": BODY.length });
    res.end(BODY);
  };
  if (req.readableEnded) answer();
  else req.on("end", answer).resume();
});
// Longer than any benchmark phase: a proxy's pooled sockets are never closed under it mid-run.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(port, "127.0.0.1", () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(0));
