/**
 * The HMS-SYS command line:
 *   hms token --username vet-a --password demo-pass        prints an access token
 *   hms submit-claim --token <jwt> claim.pdf               prints the claim id
 *   hms claim --token <jwt> CLM-1                          prints the claim as JSON
 * --base-url (or HMS_BASE_URL) defaults to http://localhost:3000.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { getClaim, getToken, HmsApiError, submitClaim } from "../lib/sdk/client";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "base-url": { type: "string", default: process.env.HMS_BASE_URL ?? "http://localhost:3000" },
    token: { type: "string", default: process.env.HMS_TOKEN },
    username: { type: "string" },
    password: { type: "string", default: process.env.HMS_PASSWORD },
    "idempotency-key": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const [command, arg] = positionals;
const baseUrl = values["base-url"]!;

function usage(code: number): never {
  console.error(
    "usage:\n  hms token --username U --password P\n  hms submit-claim --token T FILE.pdf\n  hms claim --token T CLM-n\noptions: --base-url URL (default http://localhost:3000)",
  );
  process.exit(code);
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined || v === "") {
    console.error(`missing ${what}`);
    usage(2);
  }
  return v;
}

try {
  if (values.help || !command) usage(values.help ? 0 : 2);
  if (command === "token") {
    const t = await getToken({
      baseUrl,
      username: need(values.username, "--username"),
      password: need(values.password, "--password"),
    });
    console.log(t.access_token);
  } else if (command === "submit-claim") {
    const pdf = new Uint8Array(await readFile(need(arg, "FILE.pdf")));
    const r = await submitClaim({
      baseUrl,
      token: need(values.token, "--token"),
      pdf,
      idempotencyKey: values["idempotency-key"] ?? randomUUID(),
    });
    console.log(r.claimId);
  } else if (command === "claim") {
    console.log(
      JSON.stringify(
        await getClaim({ baseUrl, token: need(values.token, "--token"), claimId: need(arg, "CLM-n") }),
        null,
        2,
      ),
    );
  } else usage(2);
} catch (err) {
  if (err instanceof HmsApiError) {
    console.error(`error: ${err.detail} (${err.code}, HTTP ${err.status})`);
    process.exit(1);
  }
  throw err;
}
