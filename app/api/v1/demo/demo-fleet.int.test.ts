import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPool } from "@/lib/db/pool";
import { freePort } from "@/lib/db/free-port";
import { startFleet } from "@/lib/demo-fleet/fleet-server";
import { registerFleet } from "@/lib/demo-fleet/register-fleet";
import { callRoute, problemOf } from "@/lib/testing/call-route";
import { createUser, type TestUser } from "@/lib/testing/fixtures";
import { POST as setMode } from "./instances/[id]/mode/route";
import { GET as list } from "./instances/route";

let fleet: Awaited<ReturnType<typeof startFleet>> | undefined;
let opA: TestUser;
let opB: TestUser;
let vet: TestUser;

beforeAll(async () => {
  // The fleet takes base … base+6; another test may hold one of those: try another base.
  let base = 0;
  for (let attempt = 0; !fleet; attempt++) {
    base = await freePort();
    try {
      fleet = await startFleet(base);
    } catch (err) {
      if (attempt >= 5 || !String(err).includes("EADDRINUSE")) throw err;
    }
  }
  // The shared test database may already hold a fleet from another file: register is idempotent.
  await systemPool().query(
    `DELETE FROM services WHERE name IN ('doc-service', 'claim-review', 'notify') AND tenant_id IN ('agency-a', 'agency-b')`,
  );
  await registerFleet(systemPool(), base);
  Object.assign(process.env, {
    HMS_DEMO: "1",
    HMS_DEMO_FLEET_PORT: String(base),
    HMS_DEMO_FLEET_CONTROL_URL: fleet.controlUrl,
  });
  opA = await createUser("operator", "agency-a");
  opB = await createUser("operator", "agency-b");
  vet = await createUser("veteran", "agency-a");
});
afterAll(async () => {
  await fleet?.stop();
  delete process.env.HMS_DEMO;
  delete process.env.HMS_DEMO_FLEET_CONTROL_URL;
});

const listFor = async (u: TestUser) => callRoute(list, { path: "/api/v1/demo/instances", token: u.token });

describe("demo fleet control API", () => {
  it("registers the fleet in two regions and shows each operator only their agency's instances", async () => {
    const a = await (await listFor(opA)).json();
    expect(a.items.map((i: { service: string; region: string }) => `${i.service}/${i.region}`).sort()).toEqual([
      "claim-review/primary",
      "claim-review/secondary",
      "doc-service/primary",
      "doc-service/secondary",
    ]);
    const b = await (await listFor(opB)).json();
    expect(b.items.map((i: { service: string }) => i.service)).toEqual(["claim-review", "notify"]);
  });

  it("switches an instance's mode, which its /health then reflects", async () => {
    const a = await (await listFor(opA)).json();
    const target = a.items.find(
      (i: { service: string; region: string }) => i.service === "doc-service" && i.region === "primary",
    );
    const res = await callRoute(setMode, {
      method: "POST",
      path: "/x",
      token: opA.token,
      params: { id: target.instanceId },
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode: "fail" }),
    });
    expect(res.status).toBe(204);
    expect((await fetch(`${target.url}/health`)).status).toBe(503);
    const after = await (await listFor(opA)).json();
    expect(after.items.find((i: { instanceId: string }) => i.instanceId === target.instanceId).mode).toBe("fail");
  });

  it("answers 404 for another agency's instance and 403 for veterans", async () => {
    const a = await (await listFor(opA)).json();
    const res = await callRoute(setMode, {
      method: "POST",
      path: "/x",
      token: opB.token,
      params: { id: a.items[0].instanceId },
      body: JSON.stringify({ mode: "down" }),
    });
    expect(res.status).toBe(404);
    expect((await problemOf(await listFor(vet))).code).toBe("role_forbidden");
  });
});
