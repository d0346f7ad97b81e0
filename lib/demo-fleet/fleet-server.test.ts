import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../db/free-port";
import { startFleet } from "./fleet-server";
import { fleetInstances, instanceUrl } from "./fleet-spec";

let base: number;
let fleet: Awaited<ReturnType<typeof startFleet>>;
const spec = fleetInstances[0]!;
const health = () => fetch(`${instanceUrl(spec, base)}/health`, { signal: AbortSignal.timeout(5_000) });
const setMode = (mode: string) =>
  fetch(`${fleet.controlUrl}/instances/${spec.key}/mode`, { method: "POST", body: JSON.stringify({ mode }) });

beforeAll(async () => {
  base = await freePort();
  fleet = await startFleet(base);
});
afterAll(async () => {
  await fleet.stop();
});

describe("demo fleet", () => {
  it("answers health+json pass in ok mode and lists every instance on its control port", async () => {
    const r = await health();
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/health+json");
    expect((await r.json()).status).toBe("pass");
    const list = await (await fetch(`${fleet.controlUrl}/instances`)).json();
    expect(list.items).toHaveLength(fleetInstances.length);
  });

  it("fails, slows, flaps and goes down on command, and comes back", async () => {
    expect((await setMode("fail")).status).toBe(204);
    const failed = await health();
    expect(failed.status).toBe(503);
    expect((await failed.json()).status).toBe("fail");

    await setMode("slow");
    const t0 = Date.now();
    expect((await health()).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);

    await setMode("flap");
    const flaps = [(await health()).status, (await health()).status, (await health()).status];
    expect(new Set(flaps)).toEqual(new Set([200, 503]));

    await setMode("down");
    await expect(health()).rejects.toThrow();

    await setMode("ok");
    expect((await health()).status).toBe(200);
  });

  it("answers any other path as its API under the same mode (what the gateway forwards)", async () => {
    const api = () => fetch(`${instanceUrl(spec, base)}/documents/7`, { method: "POST", body: "x" });
    const ok = await api();
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, instance: spec.key, path: "/documents/7" });
    await setMode("fail");
    const failed = await api();
    expect(failed.status).toBe(503);
    expect(failed.headers.get("content-type")).toBe("application/json");
    await setMode("ok");
  });

  it("refuses an unknown mode or instance", async () => {
    expect((await setMode("explode")).status).toBe(422);
    const r = await fetch(`${fleet.controlUrl}/instances/nope/mode`, { method: "POST", body: '{"mode":"ok"}' });
    expect(r.status).toBe(404);
  });
});
