import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { runLoad } from "./load";

let server: http.Server | null = null;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

describe("burst load", () => {
  it("has every request of the burst in flight at the same time", async () => {
    const count = 60;
    const held: http.ServerResponse[] = [];
    let mostInFlight = 0;
    // Answers nothing until all `count` requests have arrived: a generator that sent them one
    // after another, or a few at a time, would never finish.
    server = http.createServer((_req, res) => {
      held.push(res);
      mostInFlight = Math.max(mostInFlight, held.length);
      if (held.length === count) for (const r of held.splice(0)) r.writeHead(200).end("{}");
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;

    const result = await runLoad({
      kind: "burst",
      targets: [{ url: `http://127.0.0.1:${port}/x`, share: 1 }],
      count,
      timeoutMs: 15_000,
    });

    expect(mostInFlight).toBe(count);
    expect(result.ok).toBe(count);
    expect(result.errors).toBe(0);
    expect(result.spanMs).toBeGreaterThan(0);
  }, 30_000);

  it("splits the burst over the targets by share and counts each one's answers", async () => {
    let n = 0;
    server = http.createServer((_req, res) => {
      n++;
      res.writeHead(n % 2 ? 200 : 429).end("{}");
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const result = await runLoad({
      kind: "burst",
      targets: [
        { url: `${url}/a`, share: 3 },
        { url: `${url}/b`, share: 1 },
      ],
      count: 40,
    });

    expect(result.perTarget!.map((t) => t.requests)).toEqual([30, 10]);
    expect(result.ok).toBe(20);
    expect(result.byStatus).toEqual({ 200: 20, 429: 20 });
  }, 30_000);
});
