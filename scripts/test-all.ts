/**
 * `npm test`: everything, in order — typecheck, lint (ESLint + Prettier), unit, integration
 * (fresh embedded PostgreSQL), e2e (the real system in Chromium). Stops at the first failing
 * step and ends with one line counting the tests that ran.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const out = mkdtempSync(path.join(tmpdir(), "hms-test-"));
const only = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;

function run(name: string, cmd: string, args: string[], env: Record<string, string> = {}): void {
  if (only.length && !only.includes(name)) return;
  console.log(`\n=== ${name}: ${cmd} ${args.join(" ")}`);
  const started = Date.now();
  const r = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } });
  console.log(`=== ${name}: ${r.status === 0 ? "ok" : "FAILED"} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (r.status !== 0) {
    collect();
    console.log(`\n${passed} passed, ${Math.max(failed, 1)} failed${skipped ? `, ${skipped} skipped` : ""}`);
    process.exit(r.status ?? 1);
  }
}

const counted = new Set<string>();
function collect(): void {
  for (const f of ["unit.json", "integration.json"]) {
    const p = path.join(out, f);
    if (!existsSync(p) || counted.has(p)) continue;
    counted.add(p);
    const j = JSON.parse(readFileSync(p, "utf8")) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
    };
    passed += j.numPassedTests;
    failed += j.numFailedTests;
    skipped += j.numPendingTests;
  }
  const e2e = path.join(out, "e2e.json");
  if (existsSync(e2e) && !counted.has(e2e)) {
    counted.add(e2e);
    const j = JSON.parse(readFileSync(e2e, "utf8")) as {
      stats: { expected: number; unexpected: number; flaky: number; skipped: number };
    };
    passed += j.stats.expected + j.stats.flaky;
    failed += j.stats.unexpected;
    skipped += j.stats.skipped;
  }
}

const npx = "npx";
run("typecheck", npx, ["tsc", "--noEmit"]);
run("lint", npx, ["eslint", ".", "--max-warnings", "0"]);
run("format", npx, ["prettier", "--check", "."]);
const vitestJson = (f: string) => ["--reporter=default", "--reporter=json", `--outputFile.json=${path.join(out, f)}`];
run("unit", npx, ["vitest", "run", "--project", "unit", ...vitestJson("unit.json")]);
run("integration", npx, ["vitest", "run", "--project", "integration", ...vitestJson("integration.json")]);
run("e2e", npx, ["playwright", "test", "--reporter=list,json"], {
  PLAYWRIGHT_JSON_OUTPUT_NAME: path.join(out, "e2e.json"),
});
collect();
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed ? 1 : 0);
