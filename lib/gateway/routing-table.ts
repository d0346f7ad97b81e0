import type pg from "pg";
import { Breaker, type BreakerSettings, type SharedBreakerState } from "../circuit/breaker";
import { loadCircuitRows, sharedStateOf } from "../circuit/circuit-store";
import { accessFromStored, type GatewayAccess } from "../registry/service-schema";

/**
 * The gateway's in-memory copy of the registry: every service with its instances and their
 * breakers, so routing a request needs no database round trip. Filled at start, then kept
 * current by NOTIFY (hms_registry / hms_health / hms_circuit, see gateway-sync.ts) and a full
 * refresh every 30 s that catches anything a dropped LISTEN connection missed. A service not in
 * the table (registered a moment ago) is looked up once on demand; misses are remembered 1 s.
 */
export interface RuntimeInstance {
  id: string;
  serviceId: string;
  tenantId: string;
  url: string;
  /** parsed once: where requests go */
  target: { protocol: "http:" | "https:"; hostname: string; port: number; basePath: string };
  region: string;
  weight: number;
  enabled: boolean;
  /** health as the prober last stored it */
  status: string;
  breaker: Breaker;
  /** requests in flight from this replica */
  outstanding: number;
  /** smooth weighted round-robin state */
  currentWeight: number;
  /** last call from this replica (heartbeat detail covers recently used breakers) */
  lastUsedAt: number;
}

export interface RuntimeService {
  id: string;
  tenantId: string;
  name: string;
  timeoutMs: number;
  forwardIdentity: boolean;
  /** who may call it (lib/gateway/access-policy.ts); a registry change reaches it by NOTIFY */
  access: GatewayAccess;
  settings: BreakerSettings;
  instances: RuntimeInstance[];
}

interface Row {
  service_id: string;
  tenant_id: string;
  name: string;
  gateway_timeout_ms: number;
  forward_identity: boolean;
  /** jsonb, NULL = the default policy */
  access: unknown;
  breaker_failure_rate_pct: number;
  breaker_min_calls: number;
  breaker_consecutive_failures: number;
  breaker_window_seconds: number;
  breaker_open_seconds: number;
  breaker_half_open_calls: number;
  instance_id: string | null;
  url: string | null;
  region: string | null;
  weight: number | null;
  enabled: boolean | null;
  status: string | null;
}

const SELECT = `
SELECT s.id AS service_id, s.tenant_id, s.name, s.gateway_timeout_ms, s.forward_identity, s.access,
       s.breaker_failure_rate_pct, s.breaker_min_calls, s.breaker_consecutive_failures,
       s.breaker_window_seconds, s.breaker_open_seconds, s.breaker_half_open_calls,
       i.id AS instance_id, i.url, i.region, i.weight, i.enabled, i.status
  FROM services s LEFT JOIN instances i ON i.service_id = s.id`;

const MISS_TTL_MS = 1_000;

export function parseTarget(raw: string): RuntimeInstance["target"] {
  const u = new URL(raw);
  const protocol = u.protocol === "https:" ? "https:" : "http:";
  return {
    protocol,
    hostname: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port ? Number(u.port) : protocol === "https:" ? 443 : 80,
    basePath: u.pathname.replace(/\/+$/, ""),
  };
}

function settingsOf(r: Row): BreakerSettings {
  return {
    failureRatePct: r.breaker_failure_rate_pct,
    minCalls: r.breaker_min_calls,
    consecutiveFailures: r.breaker_consecutive_failures,
    windowSeconds: r.breaker_window_seconds,
    openSeconds: r.breaker_open_seconds,
    halfOpenCalls: r.breaker_half_open_calls,
  };
}

const key = (tenantId: string, name: string) => `${tenantId}\u0000${name}`;

export class RoutingTable {
  private services = new Map<string, RuntimeService>();
  private byServiceId = new Map<string, RuntimeService>();
  private instances = new Map<string, RuntimeInstance>();
  private misses = new Map<string, number>();

  constructor(private readonly db: pg.Pool) {}

  /** The service, from memory; on a miss one query (then remembered either way). */
  async lookup(tenantId: string, name: string): Promise<RuntimeService | null> {
    const k = key(tenantId, name);
    const hit = this.services.get(k);
    if (hit) return hit;
    const missAt = this.misses.get(k);
    if (missAt !== undefined && Date.now() - missAt < MISS_TTL_MS) return null;
    await this.reloadService({ tenantId, name });
    const found = this.services.get(k) ?? null;
    if (!found) {
      if (this.misses.size > 10_000) this.misses.clear();
      this.misses.set(k, Date.now());
    }
    return found;
  }

  instance(id: string): RuntimeInstance | undefined {
    return this.instances.get(id);
  }

  allInstances(): IterableIterator<RuntimeInstance> {
    return this.instances.values();
  }

  /** Everything, in two statements (services+instances, circuits). */
  async loadAll(): Promise<void> {
    const { rows } = await this.db.query<Row>(SELECT);
    const circuits = await loadCircuitRows(this.db);
    const seen = this.apply(rows, new Map(circuits.map((c) => [c.instance_id, sharedStateOf(c)])));
    // Services that are gone (deleted) leave the table.
    for (const [k, s] of this.services) {
      if (!seen.has(s.id)) this.forget(k, s);
    }
    this.misses.clear();
  }

  /** One service again (its registry row changed, or its health did). */
  async reloadService(by: { tenantId: string; name: string } | { serviceId: string }): Promise<void> {
    const { rows } =
      "serviceId" in by
        ? await this.db.query<Row>(`${SELECT} WHERE s.id = $1`, [by.serviceId])
        : await this.db.query<Row>(`${SELECT} WHERE s.tenant_id = $1 AND s.name = $2`, [by.tenantId, by.name]);
    const ids = rows.map((r) => r.instance_id).filter((x): x is string => x !== null);
    const circuits = ids.length ? await loadCircuitRows(this.db, ids) : [];
    if (rows.length === 0) {
      const gone =
        "serviceId" in by ? this.byServiceId.get(by.serviceId) : this.services.get(key(by.tenantId, by.name));
      if (gone) this.forget(key(gone.tenantId, gone.name), gone);
      return;
    }
    this.apply(rows, new Map(circuits.map((c) => [c.instance_id, sharedStateOf(c)])));
    const r0 = rows[0]!;
    this.misses.delete(key(r0.tenant_id, r0.name));
  }

  /** Adopts a breaker state another replica (or an operator) stored. */
  adoptCircuit(instanceId: string, state: SharedBreakerState): boolean {
    const inst = this.instances.get(instanceId);
    if (!inst) return false;
    // An older notice (or our own echo) never rolls a breaker back.
    if (state.version < inst.breaker.version) return true;
    if (state.version === inst.breaker.version && state.state === inst.breaker.state) return true;
    inst.breaker.adopt(state);
    return true;
  }

  private forget(k: string, s: RuntimeService): void {
    this.services.delete(k);
    this.byServiceId.delete(s.id);
    for (const i of s.instances) this.instances.delete(i.id);
  }

  private apply(rows: Row[], circuits: Map<string, SharedBreakerState>): Set<string> {
    const now = Date.now();
    const grouped = new Map<string, Row[]>();
    for (const r of rows) {
      const g = grouped.get(r.service_id);
      if (g) g.push(r);
      else grouped.set(r.service_id, [r]);
    }
    for (const [serviceId, list] of grouped) {
      const r0 = list[0]!;
      const settings = settingsOf(r0);
      const previous = this.byServiceId.get(serviceId);
      // A renamed service: drop the old key.
      if (previous && (previous.name !== r0.name || previous.tenantId !== r0.tenant_id)) {
        this.services.delete(key(previous.tenantId, previous.name));
      }
      const instances: RuntimeInstance[] = [];
      for (const r of list) {
        if (r.instance_id === null || r.url === null) continue;
        let target: RuntimeInstance["target"];
        try {
          target = parseTarget(r.url);
        } catch {
          continue; // the registry validates URLs; a broken one is simply not routable
        }
        const old = this.instances.get(r.instance_id);
        // Keep the live breaker (window, trials in flight) unless its window length changed.
        let breaker = old?.breaker;
        if (!breaker || breaker.settings.windowSeconds !== settings.windowSeconds) {
          const fresh = new Breaker(settings, now);
          if (breaker) fresh.adopt(breaker.snapshot());
          breaker = fresh;
        }
        breaker.settings = settings;
        const shared = circuits.get(r.instance_id);
        if (shared && shared.version > breaker.version) breaker.adopt(shared);
        if (!shared && breaker.version > 0) {
          // the row is gone (instance re-created): start closed
          breaker.adopt({ ...breaker.snapshot(), state: "closed", forced: null, openUntil: null, version: 0 });
        }
        const inst: RuntimeInstance = {
          id: r.instance_id,
          serviceId,
          tenantId: r.tenant_id,
          url: r.url,
          target,
          region: r.region ?? "primary",
          weight: Math.max(1, r.weight ?? 1),
          enabled: r.enabled ?? true,
          status: r.status ?? "unknown",
          breaker,
          outstanding: old?.outstanding ?? 0,
          currentWeight: old?.currentWeight ?? 0,
          lastUsedAt: old?.lastUsedAt ?? 0,
        };
        instances.push(inst);
        this.instances.set(inst.id, inst);
      }
      // Instances removed from the service leave the index.
      if (previous) {
        const keep = new Set(instances.map((i) => i.id));
        for (const i of previous.instances) if (!keep.has(i.id)) this.instances.delete(i.id);
      }
      const svc: RuntimeService = {
        id: serviceId,
        tenantId: r0.tenant_id,
        name: r0.name,
        timeoutMs: r0.gateway_timeout_ms,
        forwardIdentity: r0.forward_identity,
        access: accessFromStored(r0.access),
        settings,
        instances,
      };
      this.services.set(key(svc.tenantId, svc.name), svc);
      this.byServiceId.set(serviceId, svc);
    }
    return new Set(grouped.keys());
  }
}
