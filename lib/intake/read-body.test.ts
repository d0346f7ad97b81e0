import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AppError } from "../http/app-error";
import { readBodyCapped, storageChunks } from "./read-body";

function streamOf(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i < parts.length) c.enqueue(parts[i++]!);
      else c.close();
    },
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return (err as AppError).code;
}

describe("readBodyCapped", () => {
  const parts = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5]), new Uint8Array([6])];
  const all = Buffer.from([1, 2, 3, 4, 5, 6]);

  it("returns the exact bytes and their SHA-256, with or without a Content-Length", async () => {
    for (const declared of [6, null]) {
      const r = await readBodyCapped(streamOf(parts), { maxBytes: 100, declared });
      expect(r.size).toBe(6);
      expect(r.bytes.equals(all)).toBe(true);
      expect(r.sha256.toString("hex")).toBe(createHash("sha256").update(all).digest("hex"));
    }
  });

  it("refuses a declared length over the cap without reading", async () => {
    let pulled = false;
    const body = new ReadableStream<Uint8Array>({ pull: () => void (pulled = true) }, { highWaterMark: 0 });
    expect(await codeOf(readBodyCapped(body, { maxBytes: 5, declared: 6 }))).toBe("payload_too_large");
    expect(pulled).toBe(false);
  });

  it("stops at the first chunk that crosses the cap when no length was declared", async () => {
    let reads = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        reads++;
        c.enqueue(new Uint8Array(10));
      },
    });
    expect(await codeOf(readBodyCapped(body, { maxBytes: 25, declared: null }))).toBe("payload_too_large");
    expect(reads).toBeLessThanOrEqual(4);
  });

  it("leaves an oversize body unread without cancelling it (a cancel destroys the request and resets the connection)", async () => {
    for (const declared of [null, 15]) {
      let cancelled = false;
      const body = new ReadableStream<Uint8Array>({
        pull: (c) => c.enqueue(new Uint8Array(10)),
        cancel: () => void (cancelled = true),
      });
      const code = await codeOf(readBodyCapped(body, { maxBytes: declared === null ? 25 : 100, declared }));
      expect(code).toBe(declared === null ? "payload_too_large" : "invalid_request");
      expect(cancelled).toBe(false);
      expect(body.locked).toBe(false); // released: the server drains or closes it after the answer
    }
  });

  it("refuses a body that is shorter or longer than its Content-Length", async () => {
    expect(await codeOf(readBodyCapped(streamOf(parts), { maxBytes: 100, declared: 7 }))).toBe("body_incomplete");
    expect(await codeOf(readBodyCapped(streamOf(parts), { maxBytes: 100, declared: 5 }))).toBe("invalid_request");
  });

  it("reports an interrupted stream as body_incomplete", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(3));
        c.error(new Error("socket hang up"));
      },
    });
    expect(await codeOf(readBodyCapped(body, { maxBytes: 100, declared: null }))).toBe("body_incomplete");
  });
});

describe("storageChunks", () => {
  it("slices into fixed-size chunks whose concatenation is the original", () => {
    const bytes = Buffer.from(Array.from({ length: 10 }, (_, i) => i));
    const chunks = [...storageChunks(bytes, 4)];
    expect(chunks.map((c) => c.length)).toEqual([4, 4, 2]);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect([...storageChunks(Buffer.alloc(0), 4)]).toEqual([]);
  });
});
