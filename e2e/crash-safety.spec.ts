import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { makePdf } from "../lib/documents/test-pdfs";
import { appDatabaseUrl, e2ePort, inspectorPool, nextauthSecret, tokenFor } from "./support/system";

/**
 * SIGKILL the web server in the middle of a batch of concurrent uploads. Every claim that got a
 * 201 must be present, complete and byte-identical, with exactly one queue message; nothing
 * half-stored may remain.
 */
const port = e2ePort + 7;
const base = `http://127.0.0.1:${port}`;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function startServer(): ChildProcess {
  return spawn(
    process.execPath,
    [path.join("node_modules", "next", "dist", "bin", "next"), "start", "-p", String(port)],
    {
      env: {
        ...process.env,
        DATABASE_URL: appDatabaseUrl(),
        NEXTAUTH_SECRET: nextauthSecret(),
        NEXTAUTH_URL: base,
        HMS_LOG_LEVEL: "silent",
      },
      stdio: "ignore",
    },
  );
}

async function waitUntilUp(): Promise<void> {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/.well-known/jwks.json`)).ok) return;
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("server did not start");
}

test("a SIGKILL during concurrent uploads loses no acknowledged claim and leaves nothing half-stored", async () => {
  test.setTimeout(180_000);
  const server = startServer();
  try {
    await waitUntilUp();
    const token = await tokenFor(base, "vet-a");
    const files = await Promise.all(
      Array.from({ length: 48 }, (_, i) => makePdf({ targetBytes: 512 * 1024 + i * 4099 })),
    );
    const acknowledged: { claimId: string; sha256: string; size: number }[] = [];
    let refused = 0;
    let killed = false;
    const uploads = files.map(async (pdf, i) => {
      // Stagger the starts so some uploads are mid-body, some mid-transaction, some not begun.
      await new Promise((r) => setTimeout(r, i * 15));
      try {
        const r = await fetch(`${base}/claims`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/pdf" },
          body: pdf as Uint8Array<ArrayBuffer>,
        });
        if (r.status === 201) {
          const body = (await r.json()) as { claim_id: string };
          acknowledged.push({ claimId: body.claim_id, sha256: sha(pdf), size: pdf.length });
          if (acknowledged.length === 8 && !killed) {
            killed = true;
            server.kill("SIGKILL");
          }
        } else refused++;
      } catch {
        refused++; // connection reset by the kill: the client knows it has no claim
      }
    });
    await Promise.all(uploads);
    expect(killed).toBe(true);
    expect(acknowledged.length).toBeGreaterThanOrEqual(8);
    expect(refused).toBeGreaterThan(0); // the kill really interrupted the batch

    const db = inspectorPool();
    try {
      for (const a of acknowledged) {
        const { rows } = await db.query(
          `SELECT c.status, d.sha256, d.size_bytes::int AS size,
                  (SELECT encode(sha256(string_agg(data, ''::bytea ORDER BY seq)), 'hex') FROM document_chunks WHERE document_id = d.id) AS stored_sha,
                  (SELECT count(*)::int FROM queue_messages q WHERE q.queue = 'claim-review' AND q.payload->>'claimId' = c.id) AS messages
             FROM claims c JOIN documents d ON d.id = c.document_id WHERE c.id = $1`,
          [a.claimId],
        );
        expect(rows, `claim ${a.claimId} acknowledged but missing`).toHaveLength(1);
        expect(rows[0]).toMatchObject({
          status: expect.stringMatching(/^(QUEUED|IN_REVIEW|DECIDED|NEEDS_INFO)$/),
          sha256: a.sha256,
          stored_sha: a.sha256,
          size: a.size,
          messages: 1,
        });
      }
      const orphans = await db.query(`
        SELECT (SELECT count(*)::int FROM documents d WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.document_id = d.id)) AS documents_without_claim,
               (SELECT count(*)::int FROM document_chunks ch WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.document_id = ch.document_id)) AS chunks_without_claim,
               (SELECT count(*)::int FROM claims c WHERE (SELECT count(*) FROM queue_messages q WHERE q.payload->>'claimId' = c.id) <> 1) AS claims_without_one_message,
               (SELECT count(*)::int FROM documents d WHERE d.size_bytes <> (SELECT coalesce(sum(length(data)), 0) FROM document_chunks ch WHERE ch.document_id = d.id)) AS incomplete_documents`);
      expect(orphans.rows[0]).toEqual({
        documents_without_claim: 0,
        chunks_without_claim: 0,
        claims_without_one_message: 0,
        incomplete_documents: 0,
      });
    } finally {
      await db.end();
    }
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  }
});
