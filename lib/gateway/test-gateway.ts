import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import ipaddr from "ipaddr.js";
import pino from "pino";
import { systemPool } from "../db/pool";
import { withEarlyAnswerGuard } from "../http/early-answer";
import type { NetworkPolicy } from "../net/network-policy";
import { Gateway, type GatewayDeps, type RateDecisionLike } from "./gateway";

/** Loopback allowed: gateway tests run real upstreams on 127.0.0.1. */
export const loopbackPolicy: NetworkPolicy = {
  allow: [ipaddr.parseCIDR("127.0.0.0/8"), ipaddr.parseCIDR("::1/128")],
  describe: ["127.0.0.0/8 (test)", "::1/128 (test)"],
};

export interface TestGateway<D extends RateDecisionLike> {
  url: string;
  gateway: Gateway<D>;
  close(): Promise<void>;
}

/**
 * A gateway replica on its own node:http server on 127.0.0.1 — what scripts/web-server.ts mounts,
 * without Next.js. Several in one test are several replicas: they share only PostgreSQL.
 */
export async function startTestGateway<D extends RateDecisionLike = RateDecisionLike>(
  over: Partial<GatewayDeps<D>> = {},
): Promise<TestGateway<D>> {
  const gateway = new Gateway<D>({
    db: systemPool(),
    replicaId: `test-${randomBytes(4).toString("hex")}`,
    listenUrl: process.env.DATABASE_URL,
    policy: loopbackPolicy,
    log: pino({ level: "silent" }),
    ...over,
  });
  await gateway.start();
  const server = http.createServer(withEarlyAnswerGuard((req, res) => gateway.handle(req, res)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    gateway,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.stop();
    },
  };
}
