import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/** Local secrets generated on first start (embedded DB passwords, session secret), kept in the data dir. */
const secretsSchema = z.object({
  superuserPassword: z.string().min(16),
  ownerPassword: z.string().min(16),
  appPassword: z.string().min(16),
  nextauthSecret: z.string().min(32),
  // Added in issue 5; files written before it get one on the next start.
  auditKey: z.string().min(32).optional(),
});
export type LocalSecrets = z.infer<typeof secretsSchema> & { auditKey: string };

export async function loadOrCreateSecrets(dataDir: string): Promise<LocalSecrets> {
  const file = path.join(dataDir, "secrets.json");
  const gen = (n: number) => randomBytes(n).toString("base64url");
  if (existsSync(file)) {
    const stored = secretsSchema.parse(JSON.parse(await readFile(file, "utf8")));
    if (stored.auditKey) return { ...stored, auditKey: stored.auditKey };
    const upgraded = { ...stored, auditKey: gen(32) };
    await writeFile(file, JSON.stringify(upgraded, null, 2), { mode: 0o600 });
    return upgraded;
  }
  const s: LocalSecrets = {
    superuserPassword: gen(24),
    ownerPassword: gen(24),
    appPassword: gen(24),
    nextauthSecret: gen(48),
    auditKey: gen(32),
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, JSON.stringify(s, null, 2), { mode: 0o600 });
  await chmod(file, 0o600);
  return s;
}
