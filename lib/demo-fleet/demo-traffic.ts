import { fleetServices } from "./fleet-spec";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Demo traffic (demo mode only): a synthetic client per demo tenant calling its fleet services
 * through the gateway a few times a second, so within a minute of `npm start` the Traffic page
 * has curves and switching an instance to "fail" trips its breaker from real calls (and, for a
 * primary, fails the service over to its secondary) — the thing a newcomer came to see.
 */
// Staff of each agency: a service's default gateway policy lets operators in, and no veterans.
const CALLERS: Record<string, string> = { "agency-a": "operator-a", "agency-b": "operator-b" };

export interface DemoTrafficOptions {
  webUrl: string;
  password: string;
  /** calls per second per service (default 2) */
  perSecond?: number;
  signal: AbortSignal;
  log?: (msg: string) => void;
}

async function tokenFor(webUrl: string, username: string, password: string): Promise<string | null> {
  try {
    const r = await fetch(`${webUrl}/api/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
      signal: AbortSignal.timeout(5_000),
    });
    if (!r.ok) return null;
    return ((await r.json()) as { access_token: string }).access_token;
  } catch {
    return null; // the web process is not up yet
  }
}

export async function runDemoTraffic(o: DemoTrafficOptions): Promise<void> {
  const perSecond = o.perSecond ?? 2;
  const tokens = new Map<string, { token: string; at: number }>();
  const token = async (tenant: string): Promise<string | null> => {
    const hit = tokens.get(tenant);
    if (hit && Date.now() - hit.at < 5 * 60_000) return hit.token;
    const t = await tokenFor(o.webUrl, CALLERS[tenant]!, o.password);
    if (t) tokens.set(tenant, { token: t, at: Date.now() });
    return t;
  };
  let announced = false;
  let n = 0;
  while (!o.signal.aborted) {
    const started = Date.now();
    for (const s of fleetServices) {
      if (!CALLERS[s.tenant]) continue;
      const t = await token(s.tenant);
      if (!t) continue;
      const path = n % 3 === 0 ? `/documents/${n}` : `/status?seq=${n}`;
      fetch(`${o.webUrl}/api/v1/gw/${s.name}${path}`, {
        headers: { authorization: `Bearer ${t}` },
        signal: AbortSignal.timeout(10_000),
      })
        .then(async (r) => {
          await r.arrayBuffer();
          if (!announced && r.ok) {
            announced = true;
            o.log?.(`demo traffic flowing through the gateway (${perSecond}/s per service)`);
          }
        })
        .catch(() => {});
    }
    n++;
    await sleep(Math.max(50, 1000 / perSecond - (Date.now() - started)), undefined, { signal: o.signal }).catch(
      () => {},
    );
  }
}
