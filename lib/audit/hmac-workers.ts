import { Worker } from "node:worker_threads";
import type { AuditKeyRing } from "./keys";

/**
 * Checks seal HMACs on worker threads, for long chains. Each seal's check is independent of the
 * others — HMAC(key, prev_hash || canonical) must equal its stored hash, with prev_hash taken from
 * the seal itself (the verifier's main thread checks separately that prev_hash equals the previous
 * seal's hash) — so batches can be hashed in parallel while the main thread keeps reading the
 * COPY stream. node:crypto costs a few microseconds per HMAC, mostly fixed overhead, which is
 * about half of the per-seal work; moving it off the main thread is what keeps a million-seal
 * verification near the 10-second goal on two cores.
 *
 * A batch is one ArrayBuffer (transferred, not copied) of records
 * `u32 length | u8 key index | prev hash (64) \t hash (64) \t canonical` — the tail of the COPY
 * row as it arrived, copied once; the worker answers with the index of the first record whose HMAC
 * does not match, or -1.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHmac, createSecretKey } = require("node:crypto");
const keys = workerData.keys.map((k) => createSecretKey(Buffer.from(k)));
parentPort.on("message", (m) => {
  const b = Buffer.from(m.buf, 0, m.bytes);
  let p = 0;
  let bad = -1;
  for (let i = 0; i < m.count; i++) {
    const len = b.readUInt32LE(p);
    const key = keys[b[p + 4]];
    const mac = createHmac("sha256", key).update(b.subarray(p + 5, p + 69)).update(b.subarray(p + 135, p + 5 + len)).digest("hex");
    if (mac !== b.toString("latin1", p + 70, p + 134)) { bad = i; break; }
    p += 5 + len;
  }
  parentPort.postMessage({ id: m.id, bad });
});
`;

const HEADER = 5;
const BATCH_BYTES = 2 * 1024 * 1024;
const BATCH_ROWS = 8192;

interface Pending {
  firstSeq: number;
  resolve: (bad: number) => void;
}

export class HmacWorkers {
  private readonly workers: Worker[];
  private readonly keyIndex = new Map<string, number>();
  private readonly pending = new Map<number, Pending>();
  private readonly results: Promise<number | null>[] = [];
  private next = 0;
  private buf = new ArrayBuffer(BATCH_BYTES);
  private view = Buffer.from(this.buf);
  private bytes = 0;
  private count = 0;
  private firstSeq = 0;
  private failure: Error | null = null;
  /** the lowest seq whose HMAC failed so far (reported asynchronously) */
  failedSeq: number | null = null;

  constructor(keys: AuditKeyRing, threads: number) {
    const list = [...keys.byId.values()];
    list.forEach((k, i) => this.keyIndex.set(k.id, i));
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { keys: list.map((k) => k.secret) } });
      w.on("message", (m: { id: number; bad: number }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        p.resolve(m.bad);
      });
      w.on("error", (err) => {
        this.failure = err;
        for (const p of this.pending.values()) p.resolve(-2);
        this.pending.clear();
      });
      return w;
    });
  }

  /** The index of a key id in the workers' key list. */
  keyIndexOf(keyId: string): number {
    return this.keyIndex.get(keyId) ?? -1;
  }

  /** Queues one seal: `row[start, end)` is `prev_hash \t hash \t canonical`. */
  add(seq: number, keyIndex: number, row: Buffer, start: number, end: number): void {
    const len = end - start;
    if (this.bytes + HEADER + len > this.view.length || this.count >= BATCH_ROWS) this.flush();
    if (HEADER + len > this.view.length) {
      this.buf = new ArrayBuffer(HEADER + len);
      this.view = Buffer.from(this.buf);
    }
    if (this.count === 0) this.firstSeq = seq;
    const v = this.view;
    const p = this.bytes;
    v[p] = len & 0xff;
    v[p + 1] = (len >>> 8) & 0xff;
    v[p + 2] = (len >>> 16) & 0xff;
    v[p + 3] = len >>> 24;
    v[p + 4] = keyIndex;
    // A plain Uint8Array view: Buffer#subarray goes through Buffer's species constructor, which
    // costs more than the copy itself at a million rows.
    v.set(new Uint8Array(row.buffer, row.byteOffset + start, len), p + HEADER);
    this.bytes += HEADER + len;
    this.count++;
  }

  flush(): void {
    if (this.count === 0) return;
    const id = this.next++;
    const firstSeq = this.firstSeq;
    const w = this.workers[id % this.workers.length]!;
    this.results.push(
      new Promise<number>((resolve) => this.pending.set(id, { firstSeq, resolve })).then((bad) => {
        if (bad === -2) return null;
        if (bad < 0) return null;
        const seq = firstSeq + bad;
        if (this.failedSeq === null || seq < this.failedSeq) this.failedSeq = seq;
        return seq;
      }),
    );
    w.postMessage({ id, buf: this.buf, bytes: this.bytes, count: this.count }, [this.buf]);
    this.buf = new ArrayBuffer(BATCH_BYTES);
    this.view = Buffer.from(this.buf);
    this.bytes = 0;
    this.count = 0;
  }

  /** Waits for every batch; the lowest failing seq, or null. Throws if a worker died. */
  async settle(): Promise<number | null> {
    this.flush();
    await Promise.all(this.results);
    if (this.failure) throw this.failure;
    return this.failedSeq;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
