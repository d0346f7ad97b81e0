/**
 * `npm run bench [-- <suite>…] [--quick]`: measures what the issues ask for and prints Markdown
 * tables (copied into docs/performance.md with the date and machine). Suites: intake, prober,
 * registry, gateway, queue, rls, audit. `--quick` (or HMS_BENCH_QUICK=1): short runs to check a
 * suite works end to end (the gateway suite honours it), not figures for the record.
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { benchAudit, formatAudit } from "./bench/audit";
import { benchGateway, formatGateway } from "./bench/gateway";
import { benchIntake, formatIntake } from "./bench/intake";
import { benchProber, formatProber } from "./bench/prober";
import { benchRegistryApi, formatRegistryApi } from "./bench/registry-api";
import { benchQueue, formatQueue } from "./bench/queue";
import { benchRls, formatRls } from "./bench/rls";

const args = process.argv.slice(2);
const quick = args.includes("--quick") || process.env.HMS_BENCH_QUICK === "1";
const suites = args.filter((a) => !a.startsWith("--"));
const want = (s: string) => suites.length === 0 || suites.includes(s);
const results: Record<string, unknown> = {
  at: new Date().toISOString(),
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  ...(quick ? { quick: true } : {}),
};
console.log(`# HMS-SYS benchmarks — ${results.at}\n\nMachine: ${results.machine}\n`);

if (want("intake")) {
  const rows = await benchIntake();
  results.intake = rows;
  console.log("## Claim intake (POST /claims through the data plane's pass-through, embedded PostgreSQL)\n");
  console.log(formatIntake(rows));
  console.log();
}

if (want("prober")) {
  const rows = await benchProber();
  results.prober = rows;
  console.log("## Health prober (one worker, 10 s interval)\n");
  console.log(formatProber(rows));
  console.log();
}

if (want("registry")) {
  const r = await benchRegistryApi();
  results.registry = r;
  console.log("## Registry and health read paths (1,000 services)\n");
  console.log(formatRegistryApi(r));
  console.log();
}

if (want("queue")) {
  const r = await benchQueue();
  results.queue = r;
  console.log("## Queues (issue 5): send + lease + ack throughput, pickup latency\n");
  console.log(formatQueue(r));
  console.log();
}

if (want("audit")) {
  const r = await benchAudit();
  results.audit = r;
  console.log("## Audit chain (issue 5): seal and verify 1,000,000 events\n");
  console.log(formatAudit(r));
  console.log();
}

if (want("rls")) {
  const r = await benchRls();
  results.rls = r;
  console.log("## Row-level security overhead (issue 5): tenant-scoped transaction vs bypassing RLS\n");
  console.log(formatRls(r));
  console.log();
}

if (want("gateway")) {
  const r = await benchGateway({ quick });
  results.gateway = r;
  console.log(
    "## Gateway (issues 4, 10): direct vs bare proxy vs nginx vs our data plane, added latency, failover, noisy neighbour, burst fairness\n",
  );
  console.log(formatGateway(r));
  console.log();
}

await mkdir("bench-results", { recursive: true });
await writeFile(`bench-results/bench-${Date.now()}.json`, JSON.stringify(results, null, 2));
