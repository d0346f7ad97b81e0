import type http from "node:http";
import { setting } from "../config/env";
import { systemPool } from "../db/pool";
import { networkPolicyFromEnv } from "../net/network-policy";
import { rateLimitedProblem, rateLimitHeaders } from "../ratelimit/rate-limit-headers";
import { rateLimiter, type RateDecision } from "../ratelimit/shared-limiter";
import { logger } from "../telemetry/logger";
import { recordGatewayRequest, recordRateLimited } from "../telemetry/metrics";
import { accessLog } from "./access-log";
import { Gateway } from "./gateway";
import { replicaId } from "./replica-id";

/**
 * The web process's gateway, wired to the process-wide pool, rate limiter, metrics and access
 * log. One per process (globalThis), started by scripts/web-server.ts.
 */
const g = globalThis as unknown as { hmsGateway?: Gateway<RateDecision> };

export function defaultGateway(): Gateway<RateDecision> {
  if (!g.hmsGateway) {
    g.hmsGateway = new Gateway<RateDecision>({
      db: systemPool(),
      replicaId: replicaId(),
      listenUrl: process.env.DATABASE_URL,
      policy: networkPolicyFromEnv(),
      log: accessLog(),
      events: logger,
      limiter: {
        check: (tenant, service, caller) => rateLimiter().check(tenant, service, caller),
        headers: rateLimitHeaders,
        rejected: rateLimitedProblem,
      },
      metrics: { request: recordGatewayRequest, rateLimited: recordRateLimited },
      clientIp: socketClientIp,
    });
  }
  return g.hmsGateway;
}

/**
 * The caller's address: the socket peer with no trusted proxy (unforgeable), else the
 * X-Forwarded-For entry HMS_TRUSTED_PROXY_HOPS places from the right.
 */
let trustedHops: number | undefined;

export function socketClientIp(req: http.IncomingMessage): string | null {
  // Read once: a per-request zod parse of the environment cost the data plane ~1.5 % of its CPU.
  const hops = (trustedHops ??= setting("HMS_TRUSTED_PROXY_HOPS"));
  if (hops === 0) return req.socket.remoteAddress ?? null;
  const chain = String(req.headers["x-forwarded-for"] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return chain[chain.length - hops] ?? req.socket.remoteAddress ?? null;
}
