/**
 * Calls a Next.js route handler in-process with a real Request (no framework, real database).
 */
type Handler = (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

export interface CallOptions {
  method?: string;
  path: string;
  token?: string;
  headers?: Record<string, string>;
  body?: BodyInit | Uint8Array | null;
  params?: Record<string, string>;
}

export async function callRoute(handler: Handler, o: CallOptions): Promise<Response> {
  const headers = new Headers(o.headers);
  if (o.token) headers.set("authorization", `Bearer ${o.token}`);
  const init: RequestInit & { duplex?: "half" } = {
    method: o.method ?? "GET",
    headers,
    body: (o.body ?? null) as BodyInit | null,
  };
  if (o.body instanceof ReadableStream) init.duplex = "half";
  return handler(new Request(`http://localhost${o.path}`, init), { params: Promise.resolve(o.params ?? {}) });
}

export async function problemOf(res: Response): Promise<{ status: number; code: string; detail: string }> {
  expectProblemContentType(res);
  const body = (await res.json()) as { status: number; code: string; detail: string };
  return body;
}

function expectProblemContentType(res: Response): void {
  const ct = res.headers.get("content-type");
  if (ct !== "application/problem+json") throw new Error(`expected problem+json, got ${ct} (${res.status})`);
}

/** A body that streams `bytes` in `chunk`-sized pieces, optionally pausing before finishing. */
export function streamOf(
  bytes: Uint8Array,
  chunk = 64 * 1024,
  holdBeforeEnd?: Promise<void>,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    async pull(c) {
      if (offset >= bytes.length) {
        if (holdBeforeEnd) await holdBeforeEnd;
        c.close();
        return;
      }
      c.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}
