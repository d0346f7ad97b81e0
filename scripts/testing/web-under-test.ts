/**
 * Tests only: a web process without Next.js's page renderer — claim intake, claim reads, the
 * token endpoint and the gateway data plane on one node:http port, against DATABASE_URL — for the
 * PostgreSQL-restart reliability test. Prints `{"url": …}` on stdout once listening.
 *   tsx scripts/testing/web-under-test.ts
 */
import { POST as postToken } from "@/app/api/v1/auth/token/route";
import { GET as getClaim } from "@/app/api/v1/claims/[id]/route";
import { POST as postClaim } from "@/app/api/v1/claims/route";
import { startTestRouteServer } from "@/lib/claims/test-route-server";
import { defaultGateway } from "@/lib/gateway/default-gateway";
import { GATEWAY_PREFIX } from "@/lib/gateway/gateway";

const gateway = defaultGateway();
async function startGateway(delay = 200): Promise<void> {
  try {
    await gateway.start();
  } catch {
    setTimeout(() => void startGateway(Math.min(delay * 2, 2_000)), delay).unref();
  }
}
await startGateway();

const server = await startTestRouteServer(
  [
    { pattern: "/api/v1/auth/token", handlers: { POST: postToken } },
    { pattern: "/api/v1/claims", handlers: { POST: postClaim } },
    { pattern: "/api/v1/claims/[id]", handlers: { GET: getClaim } },
  ],
  (req, res) => {
    if (!(req.url ?? "").startsWith(GATEWAY_PREFIX)) return Promise.resolve(false);
    gateway.handle(req, res);
    return Promise.resolve(true);
  },
);
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    void Promise.allSettled([server.close(), gateway.stop()]).then(() => process.exit(0));
  });
}
