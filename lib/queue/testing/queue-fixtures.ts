import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { issueServiceToken, type IssuedServiceToken } from "../../auth/service-token-admin";
import { systemPool } from "../../db/pool";
import { withTenant } from "../../db/tenant-scope";
import { handleQueueRequest } from "../queue-http";

/** Test fixtures for queues: a registered service with a token, and the lean data plane on 127.0.0.1. */

export async function createService(tenantId: string, name = `svc-${randomBytes(3).toString("hex")}`) {
  await systemPool().query(`INSERT INTO services (id, tenant_id, name) VALUES ($1, $2, $3)`, [
    randomUUID(),
    tenantId,
    name,
  ]);
  return name;
}

export async function createServiceToken(
  tenantId: string,
  opts: { queues?: string[]; serviceName?: string } = {},
): Promise<IssuedServiceToken & { serviceName: string }> {
  const serviceName = opts.serviceName ?? (await createService(tenantId));
  const issued = await withTenant(tenantId, (c) =>
    issueServiceToken(c, { tenantId, serviceName, queues: opts.queues ?? [], createdBy: "test-admin" }),
  );
  return { ...issued, serviceName };
}

export interface QueueServer {
  url: string;
  close(): Promise<void>;
}

/** The queue data plane (queue-http.ts) on a real node:http server; other paths answer 404. */
export async function startQueueServer(): Promise<QueueServer> {
  const server = http.createServer((req, res) => {
    void handleQueueRequest(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not a queue data-plane path");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** One queue call over HTTP: POST `path` (under /api/v1/queues/) with a bearer token and JSON body. */
export async function queuePost(
  server: Pick<QueueServer, "url">,
  token: string,
  path: string,
  body?: unknown,
  init: { signal?: AbortSignal } = {},
): Promise<Response> {
  return fetch(`${server.url}/api/v1/queues/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
    signal: init.signal ?? null,
  });
}
