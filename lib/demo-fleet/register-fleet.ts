import type pg from "pg";
import { notifyRegistryChange } from "../registry/registry-notify";
import { fleetInstances, fleetServices, instanceUrl } from "./fleet-spec";

/**
 * Registers the demo fleet's services on first start (a service that already exists — perhaps
 * edited by an admin since — is left alone). Demo mode only.
 */
export async function registerFleet(db: Pick<pg.Pool, "query">, basePort: number): Promise<string[]> {
  const created: string[] = [];
  for (const svc of fleetServices) {
    const r = await db.query<{ id: string }>(
      `INSERT INTO services (id, tenant_id, name, description, check_interval_seconds, failure_threshold, success_threshold)
       VALUES (gen_random_uuid(), $1, $2, $3, 5, 2, 2)
       ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id`,
      [svc.tenant, svc.name, svc.description],
    );
    const serviceId = r.rows[0]?.id;
    if (!serviceId) continue;
    created.push(svc.name);
    for (const inst of fleetInstances.filter((i) => i.service === svc.name && i.tenant === svc.tenant)) {
      await db.query(
        `INSERT INTO instances (id, service_id, tenant_id, url, region) VALUES (gen_random_uuid(), $1, $2, $3, $4)`,
        [serviceId, svc.tenant, instanceUrl(inst, basePort), inst.region],
      );
    }
    // A web replica may already be running against this database (a second `npm start`): tell it,
    // after the instances exist, so its gateway does not wait for the periodic resync.
    await notifyRegistryChange(db, serviceId);
  }
  return created;
}
