import http from "node:http";
import https from "node:https";
import type pg from "pg";
import type { Logger } from "pino";
import type { Caller as CallerIdentity } from "../auth/principal";
import { AppError, isAppError } from "../http/app-error";
import { problemBody, toProblem, PROBLEM_CONTENT_TYPE } from "../http/problem";
import type { NetworkPolicy } from "../net/network-policy";
import { assertAddressAllowed, defaultResolver } from "../net/network-policy";
import { checkedLookup } from "../net/safe-http";
import { isIP } from "node:net";
import { callerKeyOf, mayCallService } from "./access-policy";
import { pickInstance, retryAfterSeconds, type Pick } from "./balancer";
import {
  downstreamResponseHeaders,
  requestFacts,
  requestIdOf,
  traceContextOf,
  traceparentOf,
  upstreamRequestHeaders,
  type RequestFacts,
  type TraceContext,
} from "./forward-headers";
import { GatewaySync } from "./gateway-sync";
import { checkGatewayPath } from "./gateway-path";
import { failureKind, hasIdempotencyKey, mayRetry } from "./retry-policy";
import { identityTokenFor } from "./identity-token";
import { RoutingTable, type RuntimeInstance, type RuntimeService } from "./routing-table";
import { TokenCache } from "./token-cache";

/**
 * The gateway's data plane (issue 4): `ANY /api/v1/gw/<service>/<path>` served straight from a
 * node:http handler — authenticate (cached ES256 verification) → rate limit (local tokens) →
 * pick an instance (in-memory table, breakers, failover) → stream the request and the answer
 * → record the outcome in the breaker, metrics, traffic roll-ups and the access log. No database
 * round trip on this path in the common case; everything shared travels through gateway-sync.
 * Framework-free: scripts/web-server.ts mounts it beside Next.js; tests mount it on a bare server.
 */
export const GATEWAY_PREFIX = "/api/v1/gw/";
const SERVICE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Attempts per request, when retry-policy.ts allows another (a refused connection, an idempotent call). */
const MAX_ATTEMPTS = 3;

export interface RateDecisionLike {
  allowed: boolean;
  retryAfterSeconds: number;
  /** which limit decided: "tenant" or "service" */
  policyName?: string;
}

export interface GatewayDeps<D extends RateDecisionLike = RateDecisionLike> {
  db: pg.Pool;
  replicaId: string;
  /** connection string for the LISTEN client (none: no live sync, tests of a single replica) */
  listenUrl?: string;
  policy: NetworkPolicy;
  /** the access log: one line per call */
  log: Logger;
  /** state changes (breaker transitions); the access log when not given */
  events?: Logger;
  limiter?: {
    /** `caller`: `user:<id>` / `service:<name>`, counted against the tenant's perCaller limit if it has one */
    check(tenantId: string, service?: string, caller?: string): D | Promise<D>;
    headers(d: D): Record<string, string>;
    /** the 429 problem's detail and extra members (an object, not an Error: refusals must be cheap) */
    rejected(d: D): { detail: string; extra: Record<string, unknown> };
  };
  metrics?: {
    request(e: { tenant: string; service: string; status: number; latencyMs: number }): void;
    rateLimited(e: { tenant: string; service: string; scope: string }): void;
  };
  /** the caller's address (X-Forwarded-For handling is the server's business) */
  clientIp?: (req: http.IncomingMessage) => string | null;
}

interface Outcome {
  /** rate-limit refusals not logged since the last logged one (see logRefusal) */
  suppressed?: number;
  status: number;
  instance: RuntimeInstance | null;
  region: string | null;
  attempts: number;
  error: string | null;
  failover: boolean;
  /** the instance was picked by panic routing (balancer.ts): no instance passed its breaker */
  panic?: boolean;
}

export class Gateway<D extends RateDecisionLike = RateDecisionLike> {
  readonly table: RoutingTable;
  readonly sync: GatewaySync;
  private readonly tokens: TokenCache;
  private readonly ipVerdicts = new Map<string, AppError | null>();
  private readonly refusals = new Map<string, { loggedAt: number; suppressed: number }>();
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly deps: GatewayDeps<D>) {
    this.table = new RoutingTable(deps.db);
    this.tokens = new TokenCache(deps.db);
    this.sync = new GatewaySync(deps.db, this.table, deps.replicaId, deps.listenUrl);
    // Host names are resolved and checked against the SSRF policy at connect time (a DNS answer
    // can change after registration); IP literals are checked per call (Node skips lookup).
    const lookup = checkedLookup(deps.policy, defaultResolver, () => {});
    const agentOptions = { keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: "lifo" as const, lookup };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  async start(): Promise<void> {
    await this.sync.start();
  }

  async stop(): Promise<void> {
    await this.sync.stop();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** Handles one request whose path starts with GATEWAY_PREFIX. Never throws. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = performance.now();
    const facts = requestFacts(req.rawHeaders);
    const trace = traceContextOf(facts);
    const requestId = requestIdOf(facts, trace);
    const who: Caller = { tenant: null, caller: null, service: null, requested: null };
    this.route(req, res, facts, trace, requestId, started, who).catch((err: unknown) => {
      this.fail(res, err, requestId);
      this.finish(
        req,
        who,
        started,
        trace,
        requestId,
        refused(res.statusCode, isAppError(err) ? err.code : "internal_error"),
      );
    });
  }

  private async route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    facts: RequestFacts,
    trace: TraceContext,
    requestId: string,
    started: number,
    who: Caller,
  ): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathPart = q === -1 ? url : url.slice(0, q);
    const rest = pathPart.slice(GATEWAY_PREFIX.length);
    const slash = rest.indexOf("/");
    const name = decodeURIComponentSafe(slash === -1 ? rest : rest.slice(0, slash));
    if (!name || !SERVICE_NAME.test(name)) throw new AppError("not_found", "No such service.");
    who.requested = name;
    // Checked before anything else: a path that could leave the instance's base path never
    // costs a token check, a limiter token or a lookup (gateway-path.ts has the rules).
    const checked = checkGatewayPath(slash === -1 ? "" : rest.slice(slash));
    if (!checked.ok) throw new AppError("path_invalid", `The path cannot be forwarded: ${checked.reason}.`);
    const upstreamPath = checked.path + (q === -1 ? "" : url.slice(q));

    // A user (JWT) or a service token of a tenant; service tokens are named `service:<name>`.
    const caller = await this.authenticate(facts.authorization);
    const tenantId = caller.tenantId;
    // A service belongs to a tenant; a caller outside every tenant has none to call.
    if (tenantId === null) throw new AppError("tenant_forbidden", "Your account is not bound to a tenant.");
    who.tenant = tenantId;
    // `user:<id>` / `service:<name>`: the access log's caller, and the key a per-caller limit counts under.
    const callerKey = callerKeyOf(caller);
    who.caller = callerKey;

    // The limit comes before the service lookup: a caller over its limit (or guessing names)
    // costs no database work, and a refusal is answered without throwing.
    const limiter = this.deps.limiter;
    if (limiter) {
      const d0 = limiter.check(tenantId, name, callerKey);
      const d = d0 instanceof Promise ? await d0 : d0;
      const headers = limiter.headers(d);
      if (!d.allowed) {
        this.deps.metrics?.rateLimited({ tenant: tenantId, service: name, scope: d.policyName ?? "tenant" });
        const { detail, extra } = limiter.rejected(d);
        res.writeHead(429, {
          ...headers,
          "content-type": PROBLEM_CONTENT_TYPE,
          "cache-control": "no-store",
          "x-request-id": requestId,
        });
        res.end(JSON.stringify(problemBody(429, "rate_limited", detail, extra)));
        this.logRefusal(req, who, started, trace, requestId);
        return;
      }
      for (const k in headers) res.setHeader(k, headers[k]!);
    }

    const svc = await this.table.lookup(tenantId, name);
    // Another tenant's service answers exactly like a missing one (no existence oracle).
    if (!svc) throw new AppError("not_found", `No service "${name}" in your tenant.`);
    who.service = svc.name;
    // Who may call it (its `access` policy) is asked only of a service found in the caller's own
    // tenant. After the limiter: probing services one may not call costs limit tokens, not lookups.
    if (!mayCallService(svc.access, caller)) {
      const as = caller.kind === "service" ? `service "${caller.serviceName}"` : `role "${caller.role}"`;
      throw new AppError("gateway_forbidden", `The ${as} may not call "${svc.name}" through the gateway.`);
    }

    const identity = svc.forwardIdentity ? await identityTokenFor(caller, tenantId, svc.name) : null;
    const outcome = await this.forward(req, res, facts, svc, upstreamPath, trace, requestId, identity);
    this.finish(req, who, started, trace, requestId, outcome);
  }

  private async authenticate(header: string | undefined): Promise<CallerIdentity> {
    if (header === undefined) throw new AppError("token_missing", "Send `Authorization: Bearer <token>`.");
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) throw new AppError("token_malformed", "The Authorization header must be `Bearer <token>`.");
    return this.tokens.verify(m[1]!);
  }

  /**
   * Sends the request to one instance; when the attempt fails before any answer, tries the next
   * pick if retry-policy.ts allows it (nothing was sent, or the call is idempotent or carries
   * Idempotency-Key, and its body, if any, was not streamed yet). Everything that reached an
   * upstream feeds that instance's breaker. The path sent is the instance's base path + the
   * checked path (gateway-path.ts: it starts with "/" and cannot climb out of the base path).
   */
  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    facts: RequestFacts,
    svc: RuntimeService,
    upstreamPath: string,
    trace: TraceContext,
    requestId: string,
    identityToken: string | null,
  ): Promise<Outcome> {
    const hasBody = facts.hasBody;
    /** the body was piped to an attempt: it cannot be sent again (nothing is buffered) */
    let bodySent = false;
    // Whether a failed attempt may go to the next pick (retry-policy.ts): only what the upstream
    // cannot have received, or what is safe to run twice.
    const retryAllowed = (code: string, answered: boolean): boolean =>
      mayRetry({
        method: req.method,
        idempotencyKey: hasIdempotencyKey(req.rawHeaders),
        failure: failureKind(code),
        answered,
        replayable: !hasBody || !bodySent,
      });
    const tried = new Set<string>();
    const clientIp = this.deps.clientIp?.(req) ?? req.socket.remoteAddress ?? null;

    return new Promise<Outcome>((resolve) => {
      let clientGone = false;
      /** the region of the first attempt: a retry that lands elsewhere has failed over, visibly */
      let firstRegion: string | null = null;
      let done = false;
      const settle = (o: Outcome) => {
        if (!done) {
          done = true;
          resolve(o);
        }
      };
      res.on("close", () => {
        if (!res.writableFinished) clientGone = true;
      });

      const attempt = (n: number, lastError: string | null, failover: boolean): void => {
        const now = Date.now();
        const pick: Pick | null = pickInstance(svc, now, tried);
        if (!pick) {
          const status = lastError ? 502 : 503;
          const retryAfter = retryAfterSeconds(svc, now);
          const err = lastError
            ? new AppError("upstream_failed", `Every instance of "${svc.name}" tried failed (${lastError}).`, {
                headers: { "Retry-After": String(retryAfter) },
              })
            : new AppError("no_healthy_instance", `No instance of "${svc.name}" can take traffic right now.`, {
                headers: { "Retry-After": String(retryAfter) },
                extra: { retryAfterSeconds: retryAfter },
              });
          if (hasBody) req.resume(); // drain what the client sends; we answer without it
          this.fail(res, err, requestId);
          settle({
            status,
            instance: null,
            region: null,
            attempts: n - 1,
            error: lastError ?? "no_instance",
            failover,
          });
          return;
        }
        const inst = pick.instance;
        tried.add(inst.id);
        firstRegion ??= inst.region;
        if (pick.trial) inst.breaker.startTrial();
        const t = inst.target;
        if (isIP(t.hostname)) {
          try {
            this.assertIpAllowed(t.hostname);
          } catch (e) {
            this.recordBreaker(inst, false, pick.trial);
            const code = isAppError(e) && e.code.startsWith("ssrf_") ? e.code : "ssrf_refused";
            // refused before connecting: nothing was sent, the body (if any) is still unread
            if (n < MAX_ATTEMPTS && retryAllowed(code, false)) return attempt(n + 1, code, pick.failover.failover);
            if (hasBody) req.resume();
            this.fail(res, new AppError("upstream_failed", "The instance's address is not allowed."), requestId);
            return settle({ status: 502, instance: inst, region: inst.region, attempts: n, error: "ssrf", failover });
          }
        }
        inst.outstanding++;
        inst.lastUsedAt = now;
        let answered = false;
        let released = false;
        const release = () => {
          if (!released) {
            released = true;
            inst.outstanding--;
          }
        };
        const hostHeader = t.port === (t.protocol === "https:" ? 443 : 80) ? t.hostname : `${t.hostname}:${t.port}`;
        const upstreamReq = (t.protocol === "https:" ? https : http).request({
          protocol: t.protocol,
          hostname: t.hostname,
          port: t.port,
          method: req.method,
          path: t.basePath + upstreamPath,
          agent: t.protocol === "https:" ? this.httpsAgent : this.httpAgent,
          headers: upstreamRequestHeaders(req.rawHeaders, facts, {
            trace,
            requestId,
            clientIp,
            proto: "http",
            identityToken,
            upstreamHost: hostHeader,
          }),
          timeout: svc.timeoutMs,
        });

        const onFailure = (code: string, status: 502 | 504) => {
          release();
          if (clientGone) {
            settle({ status: 499, instance: inst, region: inst.region, attempts: n, error: "client_gone", failover });
            return;
          }
          this.recordBreaker(inst, false, pick.trial);
          const retriable = n < MAX_ATTEMPTS && !res.headersSent && retryAllowed(code, answered);
          if (retriable) return attempt(n + 1, code, pick.failover.failover || failover);
          if (res.headersSent) {
            res.destroy(); // the answer was cut mid-body: the client must see a broken response
            settle({ status: res.statusCode, instance: inst, region: inst.region, attempts: n, error: code, failover });
            return;
          }
          if (hasBody) req.resume();
          const err =
            status === 504
              ? new AppError("upstream_timeout", `"${svc.name}" did not answer within ${svc.timeoutMs} ms.`)
              : new AppError("upstream_failed", `"${svc.name}" failed to answer (${code}).`);
          this.fail(res, err, requestId);
          settle({
            status,
            instance: inst,
            region: inst.region,
            attempts: n,
            error: code,
            failover: pick.failover.failover,
            panic: pick.panic,
          });
        };

        upstreamReq.on("timeout", () => {
          upstreamReq.destroy(Object.assign(new Error("upstream timeout"), { code: "timeout" }));
        });
        upstreamReq.on("error", (e: NodeJS.ErrnoException) => {
          if (done) return;
          const code = e.code === "timeout" ? "timeout" : (e.code ?? "error");
          onFailure(code, code === "timeout" ? 504 : 502);
        });
        upstreamReq.on("response", (up) => {
          answered = true;
          const ok = (up.statusCode ?? 502) < 500;
          this.recordBreaker(inst, ok, pick.trial);
          const headers = downstreamResponseHeaders(up.rawHeaders);
          headers.push("x-request-id", requestId, "traceparent", traceparentOf(trace), "x-hms-region", inst.region);
          if (pick.failover.failover || pick.panic) headers.push("x-hms-failover", pick.failover.reason ?? "failover");
          else if (firstRegion !== null && firstRegion !== inst.region) {
            headers.push(
              "x-hms-failover",
              `retried in ${inst.region} after ${lastError ?? "a failure"} in ${firstRegion}`,
            );
          }
          res.writeHead(up.statusCode ?? 502, headers);
          up.pipe(res);
          up.on("error", () => onFailure("upstream_reset", 502));
          up.on("end", () => {
            release();
            settle({
              status: up.statusCode ?? 502,
              instance: inst,
              region: inst.region,
              attempts: n,
              error: null,
              failover: pick.failover.failover,
              panic: pick.panic,
            });
          });
          res.on("close", () => {
            if (!res.writableFinished) {
              up.destroy();
              release();
              settle({ status: 499, instance: inst, region: inst.region, attempts: n, error: "client_gone", failover });
            }
          });
        });
        res.on("close", () => {
          if (!answered && !res.writableFinished) upstreamReq.destroy();
        });

        if (hasBody) {
          bodySent = true;
          req.pipe(upstreamReq);
        } else upstreamReq.end();
      };

      attempt(1, null, false);
    });
  }

  /** The SSRF verdict on an IP-literal instance address, cached (the policy is fixed per process). */
  private assertIpAllowed(ip: string): void {
    let verdict = this.ipVerdicts.get(ip);
    if (verdict === undefined) {
      try {
        assertAddressAllowed(ip, this.deps.policy);
        verdict = null;
      } catch (e) {
        verdict = isAppError(e) ? e : new AppError("upstream_failed", "The instance's address is not allowed.");
      }
      if (this.ipVerdicts.size >= 10_000) this.ipVerdicts.clear();
      this.ipVerdicts.set(ip, verdict);
    }
    if (verdict) throw verdict;
  }

  private recordBreaker(inst: RuntimeInstance, ok: boolean, trial: boolean): void {
    const transition = inst.breaker.record(ok, Date.now(), trial);
    if (transition) {
      (this.deps.events ?? this.deps.log).warn(
        {
          instance: inst.id,
          url: inst.url,
          region: inst.region,
          from: transition.from,
          to: transition.to,
          reason: transition.reason,
        },
        "breaker transition",
      );
      this.sync.persist(inst, transition);
    }
  }

  private fail(res: http.ServerResponse, err: unknown, requestId: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { body, headers } = toProblem(err, requestId);
    res.statusCode = body.status;
    res.setHeader("x-request-id", requestId);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader("content-type", PROBLEM_CONTENT_TYPE);
    res.setHeader("cache-control", "no-store");
    res.end(JSON.stringify(body));
  }

  /**
   * Refusals by the rate limiter are counted in the metrics one by one but logged at most once
   * per tenant per second (with how many were refused since the last line): a tenant hammering
   * at 10× its quota must not cost every other tenant a log write per refused call.
   */
  private logRefusal(req: http.IncomingMessage, who: Caller, started: number, trace: TraceContext, requestId: string) {
    const tenant = who.tenant ?? "";
    const now = Date.now();
    const w = this.refusals.get(tenant);
    if (w && now - w.loggedAt < 1_000) {
      w.suppressed++;
      return;
    }
    const suppressed = w?.suppressed ?? 0;
    if (this.refusals.size >= 10_000) this.refusals.clear();
    this.refusals.set(tenant, { loggedAt: now, suppressed: 0 });
    this.finish(req, who, started, trace, requestId, { ...refused(429, "rate_limited"), suppressed }, false);
  }

  private finish(
    req: http.IncomingMessage,
    who: Caller,
    started: number,
    trace: TraceContext,
    requestId: string,
    o: Outcome,
    countRequest = true,
  ): void {
    const latencyMs = performance.now() - started;
    if (countRequest && who.tenant !== null && who.service !== null) {
      this.deps.metrics?.request({ tenant: who.tenant, service: who.service, status: o.status, latencyMs });
    }
    this.deps.log.info(
      {
        traceId: trace.traceId,
        requestId,
        tenant: who.tenant,
        caller: who.caller,
        service: who.service ?? who.requested,
        instance: o.instance?.id ?? null,
        region: o.region,
        method: req.method,
        status: o.status,
        outcome: o.error ?? (o.status >= 500 ? "upstream_error" : o.panic ? "panic_routed" : "ok"),
        attempts: o.attempts,
        failover: o.failover,
        ...(o.panic ? { panic: true } : {}),
        latencyMs: Math.round(latencyMs * 10) / 10,
        ...(o.suppressed ? { alsoRefusedSinceLastLine: o.suppressed } : {}),
      },
      "gateway",
    );
  }
}

/** Who a request came from and for, as far as it got (the access log names them on refusals too). */
interface Caller {
  tenant: string | null;
  /** `user:<id>` / `service:<name>` once authenticated (access-policy.ts callerKeyOf) */
  caller: string | null;
  /** the service found */
  service: string | null;
  /** the name in the path */
  requested: string | null;
}

function refused(status: number, error: string): Outcome {
  return { status, instance: null, region: null, attempts: 0, error, failover: false };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return "";
  }
}
