import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { base64url, generateKeyPair, SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { currentSigner } from "@/lib/auth/signing-keys";
import { systemPool } from "@/lib/db/pool";
import { garbagePdf, makePdf, notAPdf, truncatedPdf, zeroPagePdf } from "@/lib/documents/test-pdfs";
import { callRoute, problemOf, streamOf } from "@/lib/testing/call-route";
import { createAgency, createUser, type TestUser } from "@/lib/testing/fixtures";
import { GET as getDocument } from "./[id]/document/route";
import { GET as getClaim } from "./[id]/route";
import { GET as listClaims, POST as postClaim } from "./route";
import { POST as postClaimAlias } from "@/app/claims/route";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const fixture = (name: string) => readFileSync(path.join(process.cwd(), "lib/documents/fixtures", name));

let pdf: Uint8Array;
let agency: Awaited<ReturnType<typeof createAgency>>;

beforeAll(async () => {
  pdf = await makePdf({ pages: 2 });
});

async function upload(
  user: Pick<TestUser, "token"> | null,
  body: BodyInit | Uint8Array | null,
  headers: Record<string, string> = {},
) {
  return callRoute(postClaim, {
    method: "POST",
    path: "/api/v1/claims",
    token: user?.token,
    headers: { "content-type": "application/pdf", ...headers },
    body,
  });
}

/** Every row intake writes, for one tenant: all must stay zero after a refused upload. */
async function storedFor(tenantId: string) {
  const { rows } = await systemPool().query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM claims WHERE tenant_id = $1) AS claims,
            (SELECT count(*) FROM documents WHERE tenant_id = $1) AS documents,
            (SELECT count(*) FROM document_chunks WHERE tenant_id = $1) AS chunks,
            (SELECT count(*) FROM claim_events WHERE tenant_id = $1) AS events,
            (SELECT count(*) FROM queue_messages WHERE tenant_id = $1) AS messages,
            (SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'claim.intake') AS audits`,
    [tenantId],
  );
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
}
const nothing = { claims: 0, documents: 0, chunks: 0, events: 0, messages: 0, audits: 0 };

describe("POST /claims", () => {
  beforeAll(async () => {
    agency = await createAgency();
  });

  it("stores a valid PDF as a QUEUED claim with its document, queue message and audit event in one go", async () => {
    const res = await upload(agency.veteran, pdf);
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(Object.keys(body).sort()).toEqual(["claim_id", "status"]);
    expect(body.status).toBe("QUEUED");
    expect(body.claim_id).toMatch(/^CLM-\d+$/);
    expect(res.headers.get("location")).toBe(`/api/v1/claims/${body.claim_id}`);
    expect(res.headers.get("x-content-sha256")).toBe(sha256(pdf));
    expect(res.headers.get("repr-digest")).toBe(`sha-256=:${createHash("sha256").update(pdf).digest("base64")}:`);

    const { rows } = await systemPool().query(
      `SELECT c.status, d.sha256, d.size_bytes::int AS size, d.page_count,
              (SELECT string_agg(encode(data, 'hex'), '' ORDER BY seq) FROM document_chunks WHERE document_id = d.id) AS hex,
              (SELECT count(*)::int FROM queue_messages q WHERE q.payload->>'claimId' = c.id AND q.tenant_id = c.tenant_id AND q.queue = 'claim-review') AS messages,
              (SELECT count(*)::int FROM audit_events a WHERE a.target = c.id AND a.tenant_id = c.tenant_id AND a.action = 'claim.intake') AS audits
         FROM claims c JOIN documents d ON d.id = c.document_id WHERE c.id = $1`,
      [body.claim_id],
    );
    expect(rows[0]).toMatchObject({ status: "QUEUED", sha256: sha256(pdf), size: pdf.length, page_count: 2 });
    expect(Buffer.from(rows[0].hex, "hex").equals(Buffer.from(pdf))).toBe(true);
    expect(rows[0].messages).toBe(1);
    expect(rows[0].audits).toBe(1);
  });

  it("is also served at the short alias POST /claims", async () => {
    const res = await callRoute(postClaimAlias, {
      method: "POST",
      path: "/claims",
      token: agency.veteran.token,
      headers: { "content-type": "application/pdf" },
      body: pdf,
    });
    expect(res.status).toBe(201);
  });

  it("stores a multi-megabyte PDF in chunks and serves it back byte-identical with its SHA-256", async () => {
    const big = await makePdf({ targetBytes: 3 * 1024 * 1024 + 12345 });
    const created = await (await upload(agency.veteran, big)).json();
    const res = await callRoute(getDocument, {
      path: `/api/v1/claims/${created.claim_id}/document`,
      token: agency.veteran.token,
      params: { id: created.claim_id },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("x-content-sha256")).toBe(sha256(big));
    const back = new Uint8Array(await res.arrayBuffer());
    expect(back.length).toBe(big.length);
    expect(sha256(back)).toBe(sha256(big));
    const chunks = await systemPool().query(
      `SELECT count(*)::int AS n FROM document_chunks ch JOIN claims c ON c.document_id = ch.document_id WHERE c.id = $1`,
      [created.claim_id],
    );
    expect(chunks.rows[0].n).toBe(4);
  });

  it("accepts a chunked upload without Content-Length", async () => {
    const res = await upload(agency.veteran, streamOf(pdf, 1000));
    expect(res.status).toBe(201);
  });
});

describe("claims: reading back", () => {
  it("shows the owner and their agency's operator the claim with its timeline, admins through the audited path, nobody else", async () => {
    const a = await createAgency();
    const b = await createAgency();
    const otherVet = await createUser("veteran", a.tenantId);
    const created = await (await upload(a.veteran, pdf)).json();
    const id = created.claim_id as string;
    const read = (u: TestUser) => callRoute(getClaim, { path: `/api/v1/claims/${id}`, token: u.token, params: { id } });

    for (const u of [a.veteran, a.operator]) {
      const res = await read(u);
      expect(res.status).toBe(200);
      const c = await res.json();
      expect(c).toMatchObject({ claim_id: id, status: "QUEUED", tenant: a.tenantId, veteran: a.veteran.username });
      expect(c.document).toMatchObject({ sha256: sha256(pdf), pageCount: 2, sizeBytes: pdf.length });
      expect(c.timeline).toHaveLength(1);
      expect(c.timeline[0]).toMatchObject({ status: "QUEUED", actor: a.veteran.username });
    }
    const globalAdmin = await createUser("admin", null);
    const tenantAdmin = await createUser("admin", a.tenantId);
    const otherAdmin = await createUser("admin", b.tenantId);
    // Admins read claims only through the audited cross-tenant path: one event per read, in the
    // agency's chain (a global admin who names no agency: the global chain).
    for (const [u, chain] of [
      [globalAdmin, null],
      [tenantAdmin, a.tenantId],
    ] as const) {
      const res = await read(u);
      expect(res.status).toBe(200);
      expect((await res.json()).claim_id).toBe(id);
      const { rows } = await systemPool().query(
        `SELECT tenant_id, target FROM audit_events
          WHERE actor = $1 AND action IN ('admin.cross_tenant_access', 'admin.data_access')`,
        [u.username],
      );
      expect(rows).toEqual([{ tenant_id: chain, target: `claim:${id}` }]);
    }
    const tenantlessOperator = await createUser("operator", null);
    for (const u of [otherVet, b.veteran, b.operator, otherAdmin, tenantlessOperator]) {
      const res = await read(u);
      expect(res.status).toBe(404);
      expect((await problemOf(res)).code).toBe("not_found");
      const doc = await callRoute(getDocument, { path: `/x`, token: u.token, params: { id } });
      expect(doc.status).toBe(404);
    }
  });

  it("lists a veteran's own claims and an operator's agency claims, newest first, page by page", async () => {
    const a = await createAgency();
    const vet2 = await createUser("veteran", a.tenantId);
    const ids: string[] = [];
    for (const u of [a.veteran, vet2, a.veteran]) ids.push((await (await upload(u, pdf)).json()).claim_id);
    const list = async (u: TestUser, q = "") =>
      (await callRoute(listClaims, { path: `/api/v1/claims${q}`, token: u.token })).json();

    const mine = await list(a.veteran);
    expect(mine.items.map((c: { claim_id: string }) => c.claim_id)).toEqual([ids[2], ids[0]]);
    expect(mine.nextCursor).toBeNull();

    const page1 = await list(a.operator, "?limit=2");
    expect(page1.items.map((c: { claim_id: string }) => c.claim_id)).toEqual([ids[2], ids[1]]);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await list(a.operator, `?limit=2&cursor=${page1.nextCursor}`);
    expect(page2.items.map((c: { claim_id: string }) => c.claim_id)).toEqual([ids[0]]);
    expect(page2.nextCursor).toBeNull();

    for (const nobody of [
      await createUser("operator", null),
      await createUser("admin", (await createAgency()).tenantId),
    ]) {
      expect(await list(nobody)).toEqual({ items: [], nextCursor: null });
    }
    const all = await list(await createUser("admin", null), `?tenant=${a.tenantId}`);
    expect(all.items.map((c: { claim_id: string }) => c.claim_id)).toEqual([ids[2], ids[1], ids[0]]);

    const bad = await callRoute(listClaims, { path: `/api/v1/claims?limit=5000`, token: a.operator.token });
    expect(bad.status).toBe(422);
    expect((await problemOf(bad)).code).toBe("validation_failed");
  });
});

describe("POST /claims refuses bad input with problem+json and stores nothing", () => {
  let a: Awaited<ReturnType<typeof createAgency>>;
  beforeAll(async () => {
    a = await createAgency();
  });
  afterEach(async () => {
    expect(await storedFor(a.tenantId)).toEqual(nothing);
    delete process.env.HMS_MAX_UPLOAD_BYTES;
  });

  async function expectRefused(res: Response, status: number, code: string) {
    expect(res.status).toBe(status);
    const p = await problemOf(res);
    expect(p).toMatchObject({ status, code });
    expect(p.detail.length).toBeGreaterThan(10);
    expect(JSON.stringify(p)).not.toMatch(/at .*\.ts:\d+/); // never a stack trace
  }

  it("non-PDF bytes sent as application/pdf → 422 pdf_not_pdf", async () => {
    await expectRefused(await upload(a.veteran, notAPdf()), 422, "pdf_not_pdf");
  });
  it("a PDF sent with another content type → 415 unsupported_media_type", async () => {
    await expectRefused(await upload(a.veteran, pdf, { "content-type": "text/plain" }), 415, "unsupported_media_type");
    await expectRefused(
      await upload(a.veteran, pdf, { "content-type": "multipart/form-data; boundary=x" }),
      415,
      "unsupported_media_type",
    );
  });
  it("an empty body → 422 pdf_empty", async () => {
    await expectRefused(await upload(a.veteran, new Uint8Array(0)), 422, "pdf_empty");
    await expectRefused(await upload(a.veteran, null), 422, "pdf_empty");
  });
  it("a truncated PDF → 422 pdf_truncated", async () => {
    await expectRefused(await upload(a.veteran, truncatedPdf(pdf)), 422, "pdf_truncated");
  });
  it("a PDF that needs a user password → 422 pdf_encrypted", async () => {
    await expectRefused(await upload(a.veteran, fixture("encrypted-user-password.pdf")), 422, "pdf_encrypted");
  });
  it("a PDF with no pages → 422 pdf_no_pages, an unparseable one → 422 pdf_unparseable", async () => {
    await expectRefused(await upload(a.veteran, zeroPagePdf()), 422, "pdf_no_pages");
    await expectRefused(await upload(a.veteran, garbagePdf()), 422, "pdf_unparseable");
  });
  it("a page larger than 78 × 101 inches → 422 pdf_page_too_large", async () => {
    await expectRefused(
      await upload(a.veteran, await makePdf({ widthIn: 79, heightIn: 102 })),
      422,
      "pdf_page_too_large",
    );
  });
  it("over the size limit by Content-Length → 413 before reading the body", async () => {
    process.env.HMS_MAX_UPLOAD_BYTES = String(64 * 1024);
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(1024));
      },
    });
    await expectRefused(
      await upload(a.veteran, body, { "content-length": String(10 * 1024 * 1024) }),
      413,
      "payload_too_large",
    );
    expect(pulled).toBeLessThanOrEqual(1);
  });
  it("over the size limit in a chunked stream without Content-Length → 413, reading no further", async () => {
    process.env.HMS_MAX_UPLOAD_BYTES = String(200 * 1024);
    const big = await makePdf({ targetBytes: 1024 * 1024 });
    let pulledBytes = 0;
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        const part = big.slice(offset, offset + 16 * 1024);
        offset += part.length;
        pulledBytes += part.length;
        if (part.length) c.enqueue(part);
        else c.close();
      },
    });
    await expectRefused(await upload(a.veteran, body), 413, "payload_too_large");
    expect(pulledBytes).toBeLessThan(400 * 1024);
  });
  it("a body shorter than its Content-Length → 400 body_incomplete", async () => {
    await expectRefused(
      await upload(a.veteran, streamOf(pdf), { "content-length": String(pdf.length + 500) }),
      400,
      "body_incomplete",
    );
  });

  it("no token → 401 token_missing; a malformed one → 401 token_malformed", async () => {
    await expectRefused(await upload(null, pdf), 401, "token_missing");
    await expectRefused(await upload({ token: "abc.def" }, pdf), 401, "token_malformed");
    await expectRefused(await upload(null, pdf, { authorization: "Basic dmV0LWE6ZGVtbw==" }), 401, "token_malformed");
  });
  it("expired, foreign-key, alg:none, HS256-with-public-key and wrong aud/iss tokens → 401 with their codes", async () => {
    const { kid, privateKey } = await currentSigner();
    const claims = { sub: a.veteran.userId, role: "veteran", tenant: a.tenantId };
    const now = Math.floor(Date.now() / 1000);
    const sign = (c: Record<string, unknown>, key = privateKey, alg = "ES256") =>
      new SignJWT({ ...claims, iss: "hms-sys", aud: "hms-sys", exp: now + 300, ...c })
        .setProtectedHeader({ alg, kid })
        .sign(key);
    const other = await generateKeyPair("ES256");
    const none = [
      { alg: "none", kid },
      { ...claims, iss: "hms-sys", aud: "hms-sys", exp: now + 300 },
    ]
      .map((o) => base64url.encode(JSON.stringify(o)))
      .join(".");
    const cases: [string, string][] = [
      [await sign({ exp: now - 3600 }), "token_expired"],
      [await sign({}, other.privateKey), "token_invalid_signature"],
      [`${none}.`, "token_algorithm_not_allowed"],
      [await sign({}, new TextEncoder().encode("public-key-as-hmac-secret"), "HS256"), "token_algorithm_not_allowed"],
      [await sign({ aud: "someone-else" }), "token_claim_invalid"],
      [await sign({ iss: "https://evil.example" }), "token_claim_invalid"],
    ];
    for (const [token, code] of cases) await expectRefused(await upload({ token }, pdf), 401, code);
  });
  it("an operator's or admin's token on the veteran-only upload → 403 role_forbidden", async () => {
    const admin = await createUser("admin", null);
    await expectRefused(await upload(a.operator, pdf), 403, "role_forbidden");
    await expectRefused(await upload(admin, pdf), 403, "role_forbidden");
  });
});

describe("Idempotency-Key", () => {
  it("replays the original 201 for the same key and body, and stores one claim", async () => {
    const a = await createAgency();
    const key = randomUUID();
    const first = await upload(a.veteran, pdf, { "idempotency-key": key });
    const firstBody = await first.json();
    const again = await upload(a.veteran, pdf, { "idempotency-key": `"${key}"` });
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(firstBody);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect((await storedFor(a.tenantId)).claims).toBe(1);
  });

  it("refuses the same key with a different body → 422 idempotency_key_mismatch, storing nothing new", async () => {
    const a = await createAgency();
    const key = randomUUID();
    expect((await upload(a.veteran, pdf, { "idempotency-key": key })).status).toBe(201);
    const res = await upload(a.veteran, await makePdf({ pages: 3 }), { "idempotency-key": key });
    expect(res.status).toBe(422);
    expect((await problemOf(res)).code).toBe("idempotency_key_mismatch");
    expect((await storedFor(a.tenantId)).claims).toBe(1);
  });

  it("answers 409 while the first request with the key is still in flight, then lets a retry through", async () => {
    const a = await createAgency();
    const key = randomUUID();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = upload(a.veteran, streamOf(pdf, 4096, held), { "idempotency-key": key });
    await new Promise((r) => setTimeout(r, 100));
    const second = await upload(a.veteran, pdf, { "idempotency-key": key });
    expect(second.status).toBe(409);
    expect((await problemOf(second)).code).toBe("idempotency_key_in_flight");
    release();
    const first = await slow;
    expect(first.status).toBe(201);
    const replay = await upload(a.veteran, pdf, { "idempotency-key": key });
    expect((await replay.json()).claim_id).toBe((await first.json()).claim_id);
  });

  it("scopes keys to the user: another veteran may use the same key for their own claim", async () => {
    const a = await createAgency();
    const other = await createUser("veteran", a.tenantId);
    const key = randomUUID();
    const one = await (await upload(a.veteran, pdf, { "idempotency-key": key })).json();
    const two = await (await upload(other, pdf, { "idempotency-key": key })).json();
    expect(two.claim_id).not.toBe(one.claim_id);
  });

  it("forgets a key after a refused upload, so the client can retry with a fixed file", async () => {
    const a = await createAgency();
    const key = randomUUID();
    expect((await upload(a.veteran, notAPdf(), { "idempotency-key": key })).status).toBe(422);
    expect((await upload(a.veteran, pdf, { "idempotency-key": key })).status).toBe(201);
  });
});
