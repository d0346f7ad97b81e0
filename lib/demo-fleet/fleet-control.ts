import { z } from "zod";
import type { Principal } from "../auth/principal";
import { demoModeInThisProcess, setting } from "../config/env";
import { withTenantOrAll } from "../db/tenant-scope";
import { AppError } from "../http/app-error";
import { fleetInstances, fleetModes, instanceUrl, type FleetMode } from "./fleet-spec";

/**
 * The web side of the demo fleet: lists the fleet's instances the caller may see and switches
 * their mode through the fleet's control server. Exists only in demo mode (404 otherwise).
 */
export const fleetModeInput = z.object({ mode: z.enum(fleetModes) });

function fleet(): { controlUrl: string; basePort: number } {
  const controlUrl = process.env.HMS_DEMO_FLEET_CONTROL_URL;
  if (!demoModeInThisProcess() || !controlUrl)
    throw new AppError("not_found", "The demo fleet runs in demo mode only.");
  return { controlUrl, basePort: setting("HMS_DEMO_FLEET_PORT") };
}

async function currentModes(controlUrl: string): Promise<Map<string, FleetMode>> {
  try {
    const r = await fetch(`${controlUrl}/instances`, { signal: AbortSignal.timeout(2_000) });
    const body = (await r.json()) as { items: { key: string; mode: FleetMode }[] };
    return new Map(body.items.map((i) => [i.key, i.mode]));
  } catch (err) {
    throw new AppError("dependency_unavailable", "The demo fleet is not answering.", {
      headers: { "Retry-After": "5" },
      cause: err,
    });
  }
}

interface DemoInstanceRow {
  instance_id: string;
  service: string;
  tenant_id: string;
  region: string;
  url: string;
}

async function visibleFleetInstances(p: Principal, basePort: number) {
  const byUrl = new Map(fleetInstances.map((spec) => [instanceUrl(spec, basePort), spec]));
  if (p.tenantId === null && p.role !== "admin") return []; // a tenantless operator sees none
  const { rows } = await withTenantOrAll(p.tenantId, (c) =>
    c.query<DemoInstanceRow>(
      `SELECT i.id AS instance_id, s.name AS service, i.tenant_id, i.region, i.url
       FROM instances i JOIN services s ON s.id = i.service_id
      WHERE i.url = ANY($1) AND ($2::boolean OR i.tenant_id = $3)
      ORDER BY s.name, i.region`,
      // a global admin sees every agency's; anyone else only their own (a tenantless operator: none)
      [[...byUrl.keys()], p.role === "admin" && p.tenantId === null, p.tenantId ?? ""],
    ),
  );
  return rows.map((r) => ({ ...r, key: byUrl.get(r.url)!.key }));
}

function assertOperator(p: Principal): void {
  if (p.role === "veteran") throw new AppError("role_forbidden", "Operators and admins only.");
}

export async function listDemoInstances(p: Principal) {
  assertOperator(p);
  const { controlUrl, basePort } = fleet();
  const [rows, modes] = await Promise.all([visibleFleetInstances(p, basePort), currentModes(controlUrl)]);
  return {
    items: rows.map((r) => ({
      instanceId: r.instance_id,
      service: r.service,
      tenant: r.tenant_id,
      region: r.region,
      url: r.url,
      mode: modes.get(r.key) ?? "ok",
    })),
  };
}

export async function setDemoInstanceMode(p: Principal, instanceId: string, mode: FleetMode): Promise<void> {
  assertOperator(p);
  const { controlUrl, basePort } = fleet();
  const target = (await visibleFleetInstances(p, basePort)).find((r) => r.instance_id === instanceId);
  if (!target) throw new AppError("not_found", "No such demo fleet instance.");
  const r = await fetch(`${controlUrl}/instances/${target.key}/mode`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ mode }),
    signal: AbortSignal.timeout(5_000),
  }).catch((err: unknown) => {
    throw new AppError("dependency_unavailable", "The demo fleet is not answering.", {
      headers: { "Retry-After": "5" },
      cause: err,
    });
  });
  if (r.status !== 204) throw new Error(`demo fleet answered ${r.status}`);
}
