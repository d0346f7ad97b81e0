import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

/** True when the Next.js build is missing or older than any source file that goes into it. */
export function buildIsStale(root: string, distDir: string): boolean {
  const buildId = path.join(root, distDir, "BUILD_ID");
  if (!existsSync(buildId)) return true;
  const builtAt = statSync(buildId).mtimeMs;
  const roots = [
    "app",
    "components",
    "lib",
    "next.config.js",
    "prisma/schema.prisma",
    "postcss.config.mjs",
    "package-lock.json",
    "tsconfig.json",
  ];
  const skip = new Set(["generated", "node_modules"]);
  const newer = (p: string): boolean => {
    if (!existsSync(p)) return false;
    const st = statSync(p);
    if (!st.isDirectory()) return st.mtimeMs > builtAt;
    return readdirSync(p).some((e) => !skip.has(e) && newer(path.join(p, e)));
  };
  return roots.some((r) => newer(path.join(root, r)));
}
