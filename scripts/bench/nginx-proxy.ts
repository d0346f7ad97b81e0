/**
 * The peer for the gateway benchmark: nginx as a reverse proxy in front of the same upstream
 * process. Debian's `nginx-light` (installed with apt-get when /usr/sbin/nginx is missing), run
 * unprivileged (as `nobody` when we are root) with its own prefix, config, pid file, error log and
 * temp paths in a temp dir: one worker, an upstream block with `keepalive` connections,
 * `proxy_http_version 1.1` and `proxy_set_header Connection ""` (so upstream connections are
 * reused), `access_log off`. A second server block on another port is the same proxy with an access
 * log to a file (`buffer=64k`), the variant comparable to our data plane, which logs every call.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../lib/db/free-port";
import { childPids } from "./proc-stats";

export const NGINX_BIN = "/usr/sbin/nginx";
const NOBODY = 65534;

export interface NginxProxy {
  /** access_log off */
  port: number;
  /** the same proxy with an access log to a file */
  loggedPort: number;
  /** the one worker: where the proxying happens */
  workerPid: number;
  masterPid: number;
  version: string;
  stop(): Promise<void>;
}

/**
 * Makes sure nginx is there: `apt-get install -y --no-install-recommends nginx-light` when it is
 * missing (after `apt-get update` when the first try fails, e.g. no package lists yet). Returns why
 * not when it cannot be had (not root, no network): the nginx rows are then left out.
 */
export function ensureNginx(): string | null {
  if (existsSync(NGINX_BIN)) return null;
  if (process.getuid?.() !== 0) return `${NGINX_BIN} is missing and installing it needs root`;
  const apt = (...args: string[]) =>
    spawnSync("apt-get", args, {
      stdio: ["ignore", 2, 2], // stdout carries the benchmark's Markdown
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    }).status;
  console.error("[bench] installing nginx-light (the peer proxy)…");
  const install = () => apt("install", "-y", "--no-install-recommends", "nginx-light");
  if (install() !== 0 && (apt("update") !== 0 || install() !== 0)) return "apt-get install nginx-light failed";
  return existsSync(NGINX_BIN) ? null : `apt-get installed nginx-light but ${NGINX_BIN} is missing`;
}

function waitForPort(port: number, child: ChildProcess, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`nginx exited ${child.exitCode} (see ${dir}/error.log)`));
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() - started > 10_000) reject(new Error("nginx did not listen in 10 s"));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startNginx(upstreamPort: number): Promise<NginxProxy> {
  const dir = await mkdtemp(path.join(tmpdir(), "hms-bench-nginx-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chown(dir, NOBODY, NOBODY);
  const port = await freePort();
  let loggedPort = await freePort();
  while (loggedPort === port) loggedPort = await freePort();
  const location = `
      location / {
        proxy_pass http://up;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
      }`;
  // Every path nginx would write outside the prefix is set here (Debian compiles in /var/lib/nginx/*).
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  upstream up {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    access_log off;${location}
  }
  server {
    listen 127.0.0.1:${loggedPort};
    access_log ${dir}/access.log combined buffer=64k flush=1s;${location}
  }
}
`;
  const confFile = path.join(dir, "nginx.conf");
  await writeFile(confFile, conf);
  if (asRoot) await chown(confFile, NOBODY, NOBODY);
  const version = spawnSync(NGINX_BIN, ["-v"], { encoding: "utf8" })
    .stderr.trim()
    .replace(/^nginx version: /, "");
  const child = spawn(NGINX_BIN, ["-p", dir, "-c", confFile, "-e", path.join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "inherit"],
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, dir);
    await waitForPort(loggedPort, child, dir);
    let workers: number[] = [];
    for (let i = 0; i < 100 && workers.length === 0; i++) {
      workers = await childPids(child.pid!);
      if (!workers.length) await new Promise((r) => setTimeout(r, 50));
    }
    if (workers.length !== 1) throw new Error(`nginx has ${workers.length} worker processes, expected 1`);
    return { port, loggedPort, workerPid: workers[0]!, masterPid: child.pid!, version, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
