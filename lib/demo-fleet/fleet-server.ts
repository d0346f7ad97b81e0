import http from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { controlUrl, fleetInstances, fleetModes, instanceUrl, type FleetMode } from "./fleet-spec";

/**
 * Runs the demo fleet: one HTTP server per instance answering `/health` according to its mode,
 * and a control server (`GET /instances`, `POST /instances/<key>/mode {"mode"}`) on the base port.
 * Modes: ok (200 health+json pass), slow (1.5 s, then pass), fail (503 health+json fail),
 * flap (alternates pass and fail), down (the port stops accepting connections).
 */
interface Running {
  key: string;
  port: number;
  mode: FleetMode;
  server: http.Server | null;
  flip: boolean;
}

const SLOW_MS = 1_500;

function healthHandler(inst: Running): http.RequestListener {
  return (req, res) => {
    // /health answers health+json; any other path is the service's "API" (what the gateway
    // forwards), answering small JSON under the same mode, so breakers trip on real traffic.
    const isHealth = req.url === "/health" || req.url === "/";
    req.resume();
    const send = (status: number, body: "pass" | "warn" | "fail") => {
      if (isHealth) {
        res.writeHead(status, { "content-type": "application/health+json" });
        res.end(JSON.stringify({ status: body, serviceId: inst.key, time: new Date().toISOString() }));
        return;
      }
      res.writeHead(status, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          status < 500
            ? { ok: true, instance: inst.key, path: req.url, at: new Date().toISOString() }
            : { ok: false, instance: inst.key, error: "demo instance set to fail" },
        ),
      );
    };
    switch (inst.mode) {
      case "slow":
        setTimeout(() => send(200, "pass"), SLOW_MS);
        return;
      case "fail":
        send(503, "fail");
        return;
      case "flap":
        inst.flip = !inst.flip;
        send(inst.flip ? 200 : 503, inst.flip ? "pass" : "fail");
        return;
      default:
        send(200, "pass");
    }
  };
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

async function setMode(inst: Running, mode: FleetMode): Promise<void> {
  inst.mode = mode;
  if (mode === "down" && inst.server) {
    const s = inst.server;
    inst.server = null;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  } else if (mode !== "down" && !inst.server) {
    const s = http.createServer(healthHandler(inst));
    s.keepAliveTimeout = 1_000;
    await listen(s, inst.port);
    inst.server = s;
  }
}

const modeBody = z.object({ mode: z.enum(fleetModes) });

export interface RunningFleet {
  stop(): Promise<void>;
  controlUrl: string;
  /** the current mode of an instance (by its spec key), or undefined for an unknown key */
  modeOf(key: string): FleetMode | undefined;
}

export async function startFleet(basePort: number): Promise<RunningFleet> {
  const running: Running[] = fleetInstances.map((spec) => ({
    key: spec.key,
    port: Number(new URL(instanceUrl(spec, basePort)).port),
    mode: "ok",
    server: null,
    flip: false,
  }));
  for (const inst of running) await setMode(inst, "ok");

  const control = http.createServer((req, res) => {
    const reply = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.method === "GET" && req.url === "/instances") {
      return reply(200, { items: running.map((r) => ({ key: r.key, port: r.port, mode: r.mode })) });
    }
    const m = /^\/instances\/([\w-]+)\/mode$/.exec(req.url ?? "");
    const inst = m && running.find((r) => r.key === m[1]);
    if (req.method !== "POST" || !inst) return reply(404, { error: "not found" });
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString("utf8")));
    req.on("end", () => {
      let parsed;
      try {
        parsed = modeBody.safeParse(JSON.parse(raw));
      } catch {
        return reply(400, { error: "invalid JSON" });
      }
      if (!parsed.success) return reply(422, { error: `mode must be one of ${fleetModes.join(", ")}` });
      setMode(inst, parsed.data.mode).then(
        () => reply(204),
        (err: Error) => reply(500, { error: err.message }),
      );
    });
  });
  await listen(control, basePort);
  const port = (control.address() as AddressInfo).port;
  return {
    controlUrl: controlUrl(port),
    modeOf: (key) => running.find((r) => r.key === key)?.mode,
    stop: async () => {
      for (const inst of running) await setMode(inst, "down");
      control.closeAllConnections();
      await new Promise<void>((r) => control.close(() => r()));
    },
  };
}
