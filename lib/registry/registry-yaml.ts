import { Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { z } from "zod";
import type { Principal } from "../auth/principal";
import { pool } from "../db/pool";
import { AppError } from "../http/app-error";
import { declaredLength, readBodyCapped } from "../intake/read-body";
import {
  applyServiceDiff,
  auditRegistryWrite,
  deleteServiceRow,
  desiredFromInput,
  diffService,
  type ExistingService,
  insertService,
  loadServices,
  mapServiceExists,
  inScope,
  scopeFor,
  type ServiceDiff,
  vetInstanceUrls,
  type WriteOptions,
} from "./service-repository";
import {
  DNS_LABEL,
  gatewayDefaults,
  gatewaySettingKeys,
  isDefaultAccess,
  serviceInput,
  type ServiceInput,
  type UrlWarning,
} from "./service-schema";

/**
 * `registry.yml`: import (preview or apply) and export.
 *
 * Two accepted forms:
 * 1. compact (the seed's): a top-level mapping `name: url` (or `name: [url, url]`), e.g.
 *    `doc_review: http://doc_review_svc:7100`. Each key becomes a service with one instance per
 *    URL in region `primary` and default settings. Key → name rule: lowercase; every run of
 *    characters other than a-z, 0-9 and "-" becomes "-"; leading/trailing "-" dropped; cut to 63.
 *    When that changes the key (`doc_review` → `doc-review`), the original key is kept as the
 *    description, so the file's identifier stays searchable. Two keys with the same name after
 *    normalising are an error.
 * 2. rich: `services: [{ name, tenant?, description?, healthPath?, checkIntervalSeconds?, …,
 *    gatewayTimeoutMs?, forwardIdentity?, breaker…?, access?: { roles?, services? }, instances:
 *    [{ url, region?, weight?, enabled? }] }]`, validated by the same `serviceInput` schema as
 *    `POST /api/v1/services`.
 * The file is declarative: omitted settings mean the defaults (an import resets a changed
 * `timeoutMs` the file does not mention; an omitted `access` is the default gateway policy). Two operational flags are the exception: omitted
 * `maintenance` and omitted instance `enabled` keep their current value, so an import never
 * ends maintenance or undrains an instance by omission.
 *
 * Any error (YAML syntax, schema, tenant, a refused URL) reports line and column and imports
 * nothing. An apply is one transaction with one `registry.import` audit event per tenant.
 */

export const MAX_REGISTRY_BYTES = 1024 * 1024;
export const REGISTRY_MEDIA_TYPES = ["text/yaml", "application/yaml", "application/x-yaml", "text/plain"] as const;

export interface RegistryError {
  line: number | null;
  column: number | null;
  /** dotted path in the normalised (rich) form, e.g. "services.0.instances.1.url" */
  path: string;
  message: string;
  /** the specific refusal code for URL problems, e.g. "ssrf_link_local" */
  code?: string;
}

type Path = (string | number)[];
type Locate = (path: Path, key?: string) => { line: number; column: number } | null;

export interface ParsedRegistry {
  form: "compact" | "rich";
  services: ServiceInput[];
  /** source position of a normalised path (for errors found after parsing, e.g. refused URLs) */
  locate: Locate;
}

function invalid(errors: RegistryError[]): AppError {
  const n = errors.length;
  const first = errors[0];
  const where = first?.line ? ` (first at line ${first.line}, column ${first.column})` : "";
  return new AppError(
    "registry_yaml_invalid",
    `registry.yml has ${n} error${n === 1 ? "" : "s"}${where}; nothing was imported.`,
    { extra: { errors } },
  );
}

/** `doc_review` → `doc-review` (see the module comment). */
export function normaliseServiceName(key: string): string {
  return key
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
}

const richFile = z.strictObject({ services: z.array(serviceInput).max(2000, "at most 2000 services per file") });

function issueMessage(i: z.core.$ZodIssue): string {
  if (i.code === "invalid_type" && /received undefined/.test(i.message)) return "is required";
  return i.message;
}

/** Parses and validates a registry file; throws 422 `registry_yaml_invalid` with positions. */
export function parseRegistryYaml(text: string): ParsedRegistry {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: true, prettyErrors: true, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const nodeAt = (n: unknown) => {
    const range = isNode(n) ? n.range : undefined;
    return range ? at(range[0]) : null;
  };

  if (doc.errors.length > 0) {
    throw invalid(
      doc.errors.map((e) => {
        const lp = e.linePos?.[0];
        const { line, column } = lp ? { line: lp.line, column: lp.col } : at(e.pos[0]);
        return {
          line,
          column,
          path: "",
          message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
        };
      }),
    );
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    throw invalid([
      {
        line: 1,
        column: 1,
        path: "",
        message: "the file is empty: expected `services:` (rich form) or `name: url` lines (compact form)",
      },
    ]);
  }
  if (!isMap(root)) {
    throw invalid([
      { ...(nodeAt(root) ?? { line: 1, column: 1 }), path: "", message: "the top level must be a mapping" },
    ]);
  }

  const servicesPair = root.items.find((p) => isScalar(p.key) && p.key.value === "services");
  const rich =
    servicesPair !== undefined && !(isScalar(servicesPair.value) && typeof servicesPair.value.value === "string");

  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw invalid([{ line: 1, column: 1, path: "", message: err instanceof Error ? err.message : "unreadable YAML" }]);
  }

  if (rich) {
    /** The node at a path, or its nearest existing ancestor (a missing key points at its parent). */
    const locate: Locate = (path, key) => {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as Node | null | undefined;
        if (node === undefined) continue;
        if (key !== undefined && n === path.length && isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
          if (pair) return nodeAt(pair.key as Node);
        }
        if (node === null) continue;
        return nodeAt(node) ?? (n === 0 ? { line: 1, column: 1 } : null);
      }
      return { line: 1, column: 1 };
    };
    const r = richFile.safeParse(js);
    if (!r.success) throw invalid(issuesToErrors(r.error.issues, locate));
    return { form: "rich", services: r.data.services, locate };
  }

  // Compact form: `name: url` or `name: [url, …]`.
  const errors: RegistryError[] = [];
  const entries: { key: Node; value: unknown; raw: Record<string, unknown> }[] = [];
  const seen = new Map<string, string>();
  for (const pair of root.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(pair.key) ? String(pair.key.value) : null;
    const pos = nodeAt(keyNode) ?? { line: 1, column: 1 };
    if (key === null) {
      errors.push({ ...pos, path: "", message: "a service key must be a plain name" });
      continue;
    }
    const name = normaliseServiceName(key);
    const i = entries.length;
    if (!name || !DNS_LABEL.test(name)) {
      errors.push({ ...pos, path: `services.${i}.name`, message: `"${key}" cannot be made into a DNS-label name` });
      continue;
    }
    const other = seen.get(name);
    if (other !== undefined) {
      errors.push({
        ...pos,
        path: `services.${i}.name`,
        message: `"${key}" and "${other}" are the same service name "${name}"`,
      });
      continue;
    }
    seen.set(name, key);
    const v = pair.value;
    let urls: unknown;
    if (isScalar(v) && typeof v.value === "string") urls = [v.value];
    else if (isSeq(v) && v.items.every((x) => isScalar(x) && typeof x.value === "string")) {
      urls = v.items.map((x) => (isScalar(x) ? x.value : null));
    } else {
      errors.push({
        ...(nodeAt(v as Node) ?? pos),
        path: `services.${i}.instances`,
        message: `expected a URL or a list of URLs for "${key}" (or use the rich form: services: [...])`,
      });
      continue;
    }
    entries.push({
      key: keyNode,
      value: v,
      raw: {
        name,
        ...(name !== key ? { description: key } : {}),
        instances: (urls as string[]).map((url) => ({ url })),
      },
    });
  }
  const locate: Locate = (path) => {
    const e = typeof path[1] === "number" ? entries[path[1]] : undefined;
    if (!e) return { line: 1, column: 1 };
    if (path[2] === "instances" && isSeq(e.value) && typeof path[3] === "number") {
      return nodeAt(e.value.items[path[3]] as Node) ?? nodeAt(e.key);
    }
    if (path[2] === "instances") return nodeAt(e.value as Node) ?? nodeAt(e.key);
    return nodeAt(e.key);
  };
  const services: ServiceInput[] = [];
  entries.forEach((e, i) => {
    const r = serviceInput.safeParse(e.raw);
    if (r.success) services.push(r.data);
    else {
      errors.push(
        ...issuesToErrors(
          r.error.issues.map((x) => ({ ...x, path: ["services", i, ...x.path] })),
          locate,
        ),
      );
    }
  });
  if (errors.length > 0) throw invalid(errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  return { form: "compact", services, locate };
}

function issuesToErrors(issues: z.core.$ZodIssue[], locate: Locate): RegistryError[] {
  return issues.map((i) => {
    const path = i.path.filter((p): p is string | number => typeof p !== "symbol");
    const key = i.code === "unrecognized_keys" ? i.keys[0] : undefined;
    const pos = locate(path, key);
    return {
      line: pos?.line ?? null,
      column: pos?.column ?? null,
      path: [...path, ...(key !== undefined ? [key] : [])].join("."),
      message: issueMessage(i),
    };
  });
}

/** Reads a registry upload: a YAML media type, at most 1 MB, UTF-8. */
export async function readRegistryBody(req: Request): Promise<string> {
  const type = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!(REGISTRY_MEDIA_TYPES as readonly string[]).includes(type)) {
    throw new AppError(
      "unsupported_media_type",
      `Send registry.yml as ${REGISTRY_MEDIA_TYPES.join(", ")} (got ${type || "no Content-Type"}).`,
    );
  }
  const body = await readBodyCapped(req.body, { maxBytes: MAX_REGISTRY_BYTES, declared: declaredLength(req) });
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body.bytes);
  } catch {
    throw invalid([{ line: 1, column: 1, path: "", message: "the file is not UTF-8 text" }]);
  }
}

// ---------------------------------------------------------------------------------------------
// Plan and apply

export interface ImportPlan {
  /** tenants the import covers (and may prune) */
  tenants: string[];
  /** service names; `tenant/name` when the import covers several tenants */
  create: string[];
  update: { name: string; changes: string[] }[];
  remove: string[];
  unchanged: string[];
  /** instance URLs accepted although they do not resolve from here */
  warnings: UrlWarning[];
}

export interface ImportOptions extends WriteOptions {
  /** remove services of the covered tenants that the file does not list */
  prune: boolean;
  /** source positions for errors (from parseRegistryYaml) */
  locate?: Locate;
}

interface Prepared {
  tenantOf: string[];
  tenants: string[];
  warnings: UrlWarning[];
}

type Op =
  | { kind: "create"; tenantId: string; input: ServiceInput; label: string }
  | { kind: "update"; existing: ExistingService; diff: ServiceDiff; label: string }
  | { kind: "remove"; existing: ExistingService; label: string }
  | { kind: "unchanged"; existing: ExistingService; label: string };

function errorAt(opts: ImportOptions, path: Path, message: string, code?: string): RegistryError {
  const pos = opts.locate?.(path) ?? null;
  return {
    line: pos?.line ?? null,
    column: pos?.column ?? null,
    path: path.join("."),
    message,
    ...(code ? { code } : {}),
  };
}

/** Tenant of every service, duplicate check, and the URL policy: everything before the database. */
async function prepare(p: Principal, services: ServiceInput[], opts: ImportOptions): Promise<Prepared> {
  const scope = await scopeFor(p, opts.tenant, "write");
  const fallback = scope.kind === "tenant" ? scope.tenantId : undefined;
  const errors: RegistryError[] = [];

  const named = [...new Set(services.map((s) => s.tenant).filter((t): t is string => t !== undefined))];
  const known = new Set<string>();
  if (p.tenantId === null && named.length > 0) {
    const { rows } = await pool().query<{ id: string }>(`SELECT id FROM tenants WHERE id = ANY($1::text[])`, [named]);
    for (const r of rows) known.add(r.id);
  }

  const tenantOf: string[] = [];
  const seen = new Map<string, number>();
  services.forEach((s, i) => {
    let t = s.tenant ?? fallback;
    if (p.tenantId !== null && s.tenant !== undefined && s.tenant !== p.tenantId) {
      errors.push(errorAt(opts, ["services", i, "tenant"], `you may only import into your own tenant (${p.tenantId})`));
      t = undefined;
    } else if (p.tenantId === null && s.tenant !== undefined && !known.has(s.tenant)) {
      errors.push(errorAt(opts, ["services", i, "tenant"], `no tenant "${s.tenant}"`));
      t = undefined;
    } else if (t === undefined) {
      errors.push(
        errorAt(opts, ["services", i], "no tenant: add `tenant:` to the service or import with ?tenant=<tenant>"),
      );
    }
    tenantOf.push(t ?? "");
    if (t === undefined) return;
    const k = `${t}\u0000${s.name}`;
    const first = seen.get(k);
    if (first !== undefined) {
      errors.push(errorAt(opts, ["services", i, "name"], `"${s.name}" is listed twice (also services.${first})`));
    } else seen.set(k, i);
  });

  const { warnings, refusals } = await vetInstanceUrls(
    services.flatMap((s, i) =>
      s.instances.map((inst, j) => ({ service: s.name, url: inst.url, path: ["services", i, "instances", j, "url"] })),
    ),
    opts,
  );
  for (const r of refusals) errors.push(errorAt(opts, r.path, r.message, r.code));
  if (errors.length > 0) throw invalid(errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));

  const tenants = [...new Set([...tenantOf, ...(fallback ? [fallback] : [])])].sort();
  return { tenantOf, tenants, warnings };
}

async function diffAll(
  client: Parameters<typeof loadServices>[0],
  services: ServiceInput[],
  pre: Prepared,
  opts: ImportOptions,
  lock: boolean,
): Promise<{ plan: ImportPlan; ops: Op[] }> {
  const existing = await loadServices(client, pre.tenants, { lock });
  const multi = pre.tenants.length > 1;
  const label = (t: string, name: string) => (multi ? `${t}/${name}` : name);
  const byKey = new Map(existing.map((s) => [`${s.tenantId}\u0000${s.name}`, s]));
  const listed = new Set<string>();
  const ops: Op[] = [];
  const errors: RegistryError[] = [];
  const plan: ImportPlan = {
    tenants: pre.tenants,
    create: [],
    update: [],
    remove: [],
    unchanged: [],
    warnings: pre.warnings,
  };

  services.forEach((s, i) => {
    const t = pre.tenantOf[i]!;
    const key = `${t}\u0000${s.name}`;
    listed.add(key);
    const current = byKey.get(key);
    const name = label(t, s.name);
    if (!current) {
      s.instances.forEach((inst, j) => {
        if (inst.id) errors.push(errorAt(opts, ["services", i, "instances", j, "id"], "no instance with this id"));
      });
      ops.push({ kind: "create", tenantId: t, input: s, label: name });
      plan.create.push(name);
      return;
    }
    const diff = diffService(current, desiredFromInput(s));
    for (const e of diff.errors) errors.push(errorAt(opts, ["services", i, ...e.path], e.message));
    if (diff.changes.length === 0) {
      ops.push({ kind: "unchanged", existing: current, label: name });
      plan.unchanged.push(name);
    } else {
      ops.push({ kind: "update", existing: current, diff, label: name });
      plan.update.push({ name, changes: diff.changes });
    }
  });
  if (opts.prune) {
    for (const s of existing) {
      if (listed.has(`${s.tenantId}\u0000${s.name}`)) continue;
      const name = label(s.tenantId, s.name);
      ops.push({ kind: "remove", existing: s, label: name });
      plan.remove.push(name);
    }
  }
  if (errors.length > 0) throw invalid(errors);
  return { plan, ops };
}

/** What an import would do, changing nothing (`?dry_run=1`). */
export async function planImport(p: Principal, services: ServiceInput[], opts: ImportOptions): Promise<ImportPlan> {
  const pre = await prepare(p, services, opts);
  const scope = await scopeFor(p, opts.tenant, "write");
  return (await inScope(scope, (tx) => diffAll(tx, services, pre, opts, false))).plan;
}

/** Runs the plan in one transaction (all or nothing), with one audit event per covered tenant. */
export async function applyImport(p: Principal, services: ServiceInput[], opts: ImportOptions): Promise<ImportPlan> {
  const pre = await prepare(p, services, opts);
  const scope = await scopeFor(p, opts.tenant, "write");
  return mapServiceExists(
    () =>
      inScope(scope, async (tx) => {
        const { plan, ops } = await diffAll(tx, services, pre, opts, true);
        for (const op of ops) if (op.kind === "remove") await deleteServiceRow(tx, op.existing.id);
        for (const op of ops) if (op.kind === "update") await applyServiceDiff(tx, op.existing, op.diff);
        for (const op of ops) {
          if (op.kind === "create")
            await insertService(tx, op.tenantId, { ...desiredFromInput(op.input), name: op.input.name });
        }
        const tenants = pre.tenants.length > 0 ? pre.tenants : [null];
        for (const t of tenants) {
          const mine = (o: Op) => t === null || (o.kind === "create" ? o.tenantId : o.existing.tenantId) === t;
          const names = (kind: Op["kind"]) => ops.filter((o) => o.kind === kind && mine(o)).map((o) => o.label);
          await auditRegistryWrite(tx, p, opts, {
            tenantId: t,
            action: "registry.import",
            target: "registry.yml",
            data: {
              created: names("create").length,
              updated: names("update").length,
              removed: names("remove").length,
              unchanged: names("unchanged").length,
              prune: opts.prune,
              create: names("create"),
              update: names("update"),
              remove: names("remove"),
              warnings: plan.warnings.length,
            },
          });
        }
        return plan;
      }),
    () => "A service in the file was registered by someone else meanwhile; nothing was imported. Retry the import.",
  );
}

/** Route entry point: parse, then preview (`dryRun`) or apply. */
export async function importRegistry(
  p: Principal,
  text: string,
  opts: Omit<ImportOptions, "locate"> & { dryRun: boolean },
): Promise<{ dryRun: boolean; plan: ImportPlan }> {
  if (p.role !== "admin") throw new AppError("role_forbidden", "This action needs the admin role.");
  const parsed = parseRegistryYaml(text);
  const o: ImportOptions = { ...opts, locate: parsed.locate };
  const plan = opts.dryRun ? await planImport(p, parsed.services, o) : await applyImport(p, parsed.services, o);
  return { dryRun: opts.dryRun, plan };
}

// ---------------------------------------------------------------------------------------------
// Export

/**
 * The registry as rich-form YAML. Every health setting is written explicitly (a file should not
 * depend on today's defaults); `maintenance` and `enabled` only when they are the non-default
 * value. The gateway and breaker settings are written only where a service differs from their
 * defaults (likewise `access`, written in its canonical form when it is not the default policy):
 * they are many, most services keep them, and leaving them out keeps exports of such
 * services as they were before the settings existed (an import fills in the same defaults, so
 * the round trip is still exact).
 * `tenant` is written per service only for a global admin's all-tenants export, so a one-tenant
 * export imports into whatever tenant the importer names. Instance ids are not written: URLs
 * identify instances across environments. import(export(x)) with the same `tenant` is a no-op.
 */
export async function exportRegistryYaml(p: Principal, tenant?: string): Promise<string> {
  const scope = await scopeFor(p, tenant, "write");
  let tenants: string[];
  if (scope.kind === "tenant") tenants = [scope.tenantId];
  else if (scope.kind === "all") {
    tenants = (await pool().query<{ id: string }>(`SELECT id FROM tenants ORDER BY id`)).rows.map((r) => r.id);
  } else tenants = [];
  const services = tenants.length === 0 ? [] : await inScope(scope, (c) => loadServices(c, tenants, { lock: false }));
  const withTenant = scope.kind === "all";
  const doc = new Document({
    services: services.map((s) => ({
      name: s.name,
      ...(withTenant ? { tenant: s.tenantId } : {}),
      ...(s.description !== null ? { description: s.description } : {}),
      healthPath: s.healthPath,
      checkIntervalSeconds: s.checkIntervalSeconds,
      timeoutMs: s.timeoutMs,
      failureThreshold: s.failureThreshold,
      successThreshold: s.successThreshold,
      latencyBudgetMs: s.latencyBudgetMs,
      ...Object.fromEntries(gatewaySettingKeys.filter((k) => s[k] !== gatewayDefaults[k]).map((k) => [k, s[k]])),
      ...(isDefaultAccess(s.access) ? {} : { access: s.access }),
      ...(s.maintenance ? { maintenance: true } : {}),
      instances: s.instances.map((i) => ({
        url: i.url,
        region: i.region,
        weight: i.weight,
        ...(i.enabled ? {} : { enabled: false }),
      })),
    })),
  });
  const which = scope.kind === "tenant" ? `tenant ${scope.tenantId}` : "all tenants";
  doc.commentBefore = ` HMS-SYS registry export (${which}), ${services.length} service(s).\n Import with POST /api/v1/registry/import (add ?dry_run=1 to preview).`;
  return doc.toString({ lineWidth: 0 });
}
