#!/usr/bin/env node
// `npx hms …` / the package's bin entry: runs scripts/hms.ts through tsx.
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const root = path.join(__dirname, "..");
const r = spawnSync(
  process.execPath,
  [path.join(root, "node_modules/tsx/dist/cli.mjs"), path.join(root, "scripts/hms.ts"), ...process.argv.slice(2)],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
