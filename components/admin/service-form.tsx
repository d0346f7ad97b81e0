"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { HealthIcon } from "../board/health-status";
import { formatLatency } from "../board/relative-time";
import { isApiError } from "../queries/api-error";
import {
  defaultGatewayAccess,
  fieldProblems,
  gatewayRoles,
  type GatewayRole,
  registryApi,
  registryQueries,
  servicePageHref,
  type ProbeResult,
  type ServiceInput,
  type ServiceView,
  type ServiceWrite,
} from "../queries/registry";
import { describeGatewayAccess, roleNames } from "../services/gateway-access-words";

/** The server's defaults (lib/registry/service-schema.ts), shown as starting values. */
const defaults = {
  healthPath: "/health",
  checkIntervalSeconds: "10",
  timeoutMs: "2000",
  failureThreshold: "3",
  successThreshold: "2",
  latencyBudgetMs: "1000",
  gatewayTimeoutMs: "10000",
  breakerFailureRatePct: "50",
  breakerMinCalls: "10",
  breakerConsecutiveFailures: "5",
  breakerWindowSeconds: "10",
  breakerOpenSeconds: "30",
  breakerHalfOpenCalls: "3",
};

/** The settings of the collapsed "Gateway and circuit breaker" section (it opens when one of them has an error). */
const gatewayNumberFields = [
  "gatewayTimeoutMs",
  "breakerFailureRatePct",
  "breakerMinCalls",
  "breakerWindowSeconds",
  "breakerConsecutiveFailures",
  "breakerOpenSeconds",
  "breakerHalfOpenCalls",
] as const;
const gatewayPaths: ReadonlySet<string> = new Set([...gatewayNumberFields, "forwardIdentity"]);

const numberFields = [
  "checkIntervalSeconds",
  "timeoutMs",
  "latencyBudgetMs",
  "failureThreshold",
  "successThreshold",
  ...gatewayNumberFields,
] as const;
type NumberField = (typeof numberFields)[number];

interface InstanceRow {
  key: number;
  id?: string;
  url: string;
  region: string;
  weight: string;
}

interface FormValues {
  tenant: string;
  name: string;
  description: string;
  healthPath: string;
  checkIntervalSeconds: string;
  timeoutMs: string;
  latencyBudgetMs: string;
  failureThreshold: string;
  successThreshold: string;
  gatewayTimeoutMs: string;
  forwardIdentity: boolean;
  breakerFailureRatePct: string;
  breakerMinCalls: string;
  breakerConsecutiveFailures: string;
  breakerWindowSeconds: string;
  breakerOpenSeconds: string;
  breakerHalfOpenCalls: string;
  maintenance: boolean;
  /** gateway access: which roles of the agency may call it */
  accessRoles: Record<GatewayRole, boolean>;
  /** gateway access: service names (comma or space separated), "*" = every service token of the agency */
  accessServices: string;
  instances: InstanceRow[];
}

const roleHelp: Record<GatewayRole, string> = {
  veteran: "Anyone with a veteran account at this agency. Only for services meant to be called by veterans.",
  operator: "The agency’s operations staff.",
  admin: "The agency’s administrators.",
};

function accessValues(access: { roles: readonly GatewayRole[]; services: readonly string[] }) {
  return {
    accessRoles: Object.fromEntries(gatewayRoles.map((r) => [r, access.roles.includes(r)])) as Record<
      GatewayRole,
      boolean
    >,
    accessServices: access.services.join(", "),
  };
}

/** "billing, notify" → ["billing", "notify"]; blank → [] (no service token may call it). */
function serviceList(raw: string): string[] {
  return raw.split(/[\s,]+/).filter(Boolean);
}
const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

type ProbeState = { state: "pending" } | { state: "done"; result: ProbeResult } | { state: "refused"; message: string };

let rowCounter = 0;
const newRow = (init: Partial<InstanceRow> = {}): InstanceRow => ({
  key: ++rowCounter,
  url: "",
  region: "primary",
  weight: "1",
  ...init,
});

function valuesFrom(svc: ServiceView | null, tenant: string | null): FormValues {
  if (!svc) {
    return {
      tenant: tenant ?? "",
      name: "",
      description: "",
      ...defaults,
      forwardIdentity: false,
      maintenance: false,
      ...accessValues(defaultGatewayAccess),
      instances: [newRow()],
    };
  }
  return {
    tenant: svc.tenant,
    name: svc.name,
    description: svc.description ?? "",
    healthPath: svc.healthPath,
    checkIntervalSeconds: String(svc.checkIntervalSeconds),
    timeoutMs: String(svc.timeoutMs),
    latencyBudgetMs: String(svc.latencyBudgetMs),
    failureThreshold: String(svc.failureThreshold),
    successThreshold: String(svc.successThreshold),
    gatewayTimeoutMs: String(svc.gatewayTimeoutMs ?? defaults.gatewayTimeoutMs),
    forwardIdentity: svc.forwardIdentity ?? false,
    breakerFailureRatePct: String(svc.breakerFailureRatePct ?? defaults.breakerFailureRatePct),
    breakerMinCalls: String(svc.breakerMinCalls ?? defaults.breakerMinCalls),
    breakerConsecutiveFailures: String(svc.breakerConsecutiveFailures ?? defaults.breakerConsecutiveFailures),
    breakerWindowSeconds: String(svc.breakerWindowSeconds ?? defaults.breakerWindowSeconds),
    breakerOpenSeconds: String(svc.breakerOpenSeconds ?? defaults.breakerOpenSeconds),
    breakerHalfOpenCalls: String(svc.breakerHalfOpenCalls ?? defaults.breakerHalfOpenCalls),
    maintenance: svc.maintenance,
    ...accessValues(svc.access ?? defaultGatewayAccess),
    instances: svc.instances.map((i) => newRow({ id: i.id, url: i.url, region: i.region, weight: String(i.weight) })),
  };
}

const fieldLabels: Record<string, string> = {
  tenant: "Agency",
  name: "Name",
  description: "Description",
  healthPath: "Health path",
  checkIntervalSeconds: "Check interval",
  timeoutMs: "Timeout",
  latencyBudgetMs: "Latency budget",
  failureThreshold: "Failure threshold",
  successThreshold: "Success threshold",
  gatewayTimeoutMs: "Gateway timeout",
  forwardIdentity: "Send the caller’s identity",
  breakerFailureRatePct: "Failure rate",
  breakerMinCalls: "Minimum calls",
  breakerConsecutiveFailures: "Failures in a row",
  breakerWindowSeconds: "Window",
  breakerOpenSeconds: "Open period",
  breakerHalfOpenCalls: "Trial calls",
  maintenance: "Maintenance",
  access: "Who may call it",
  "access.roles": "Roles",
  "access.services": "Service tokens",
  instances: "Instances",
  url: "URL",
  region: "Region",
  weight: "Weight",
  id: "Instance",
};

/** "must be …" fragments from the server read as a sentence after the field's label. */
function sentence(label: string, message: string): string {
  const m = message.trim();
  if (/^[a-z]/.test(m)) return `${label} ${m}${/[.!?]$/.test(m) ? "" : "."}`;
  return m;
}

/** "URL" for `instances.2.url`, "Name" for `name`. */
function fieldLabel(path: string): string {
  const inst = /^instances\.\d+\.(\w+)$/.exec(path);
  return fieldLabels[inst ? inst[1]! : path] ?? path;
}

/** "Instance 3: " for a path inside the third instance row, else "". */
function rowPrefix(path: string): string {
  const inst = /^instances\.(\d+)\./.exec(path);
  return inst ? `Instance ${Number(inst[1]) + 1}: ` : "";
}

/**
 * Register or change a service: every setting with a label and help text, instance rows that
 * can be added and removed, "Test this URL now" per instance before saving, and the server's
 * refusals shown next to the field they are about (including the SSRF policy's words on a URL).
 */
export function ServiceForm(
  props:
    | { mode: "create"; tenants: readonly string[]; chooseTenant: boolean; defaultTenant: string | null }
    | { mode: "edit"; name: string; tenant: string | null },
) {
  if (props.mode === "create") {
    return (
      <ServiceFormFields
        mode="create"
        initial={valuesFrom(null, props.defaultTenant)}
        tenants={props.tenants}
        chooseTenant={props.chooseTenant}
        originalName={null}
        tenantParam={null}
      />
    );
  }
  return <EditServiceForm name={props.name} tenant={props.tenant} />;
}

function EditServiceForm({ name, tenant }: { name: string; tenant: string | null }) {
  // Loaded once: a form must not change under the admin's hands while they type.
  const query = useQuery({ ...registryQueries.service(name, tenant), refetchInterval: false, staleTime: Infinity });

  if (query.isPending) {
    return (
      <p role="status" className="text-muted">
        Loading the service…
      </p>
    );
  }
  if (!query.data) {
    const notFound = isApiError(query.error) && query.error.status === 404;
    return (
      <div role="alert" className="space-y-3 rounded-md border-l-8 border-error-dark bg-error-lighter p-4">
        <p className="font-bold">
          {notFound ? `There is no service named “${name}”.` : "We couldn’t load this service."}
        </p>
        <p>{notFound ? "It may have been removed or renamed." : query.error?.message}</p>
        <p className="flex gap-3">
          {!notFound && (
            <button type="button" className="btn btn-secondary" onClick={() => void query.refetch()}>
              Try again
            </button>
          )}
          <Link href="/admin/services" className="btn btn-primary">
            Back to the registry
          </Link>
        </p>
      </div>
    );
  }
  return (
    <ServiceFormFields
      mode="edit"
      initial={valuesFrom(query.data, tenant)}
      tenants={[]}
      chooseTenant={false}
      originalName={query.data.name}
      tenantParam={tenant ?? query.data.tenant}
    />
  );
}

function ServiceFormFields({
  mode,
  initial,
  tenants,
  chooseTenant,
  originalName,
  tenantParam,
}: {
  mode: "create" | "edit";
  initial: FormValues;
  tenants: readonly string[];
  chooseTenant: boolean;
  originalName: string | null;
  tenantParam: string | null;
}) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const uid = useId();
  const [values, setValues] = useState<FormValues>(initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  // The gateway section starts collapsed (most services keep its defaults); an error inside opens it.
  const [gatewayOpen, setGatewayOpen] = useState(false);
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [probes, setProbes] = useState<Record<number, ProbeState>>({});
  const [saved, setSaved] = useState<ServiceWrite | null>(null);
  const summaryRef = useRef<HTMLDivElement>(null);
  const addButtonRef = useRef<HTMLButtonElement>(null);

  const fid = (path: string) => `${uid}-${path.replace(/\./g, "-")}`;
  const rowPath = (index: number, field: string) => `instances.${index}.${field}`;

  const save = useMutation({
    mutationFn: (body: ServiceInput) =>
      mode === "create"
        ? registryApi.createService(body)
        : registryApi.updateService(originalName ?? body.name ?? "", tenantParam, body),
    onSuccess: async (view) => {
      await queryClient.invalidateQueries({ queryKey: registryQueries.all() });
      // Saved, but a host that does not resolve from here deserves a word before moving on.
      if (view.warnings?.length) setSaved(view);
      else router.push(servicePageHref(view.name, view.tenant));
    },
    onError: (err) => showServerErrors(err),
  });

  function set<K extends keyof FormValues>(key: K, value: FormValues[K]) {
    setValues((v) => ({ ...v, [key]: value }));
  }

  function setRow(key: number, patch: Partial<InstanceRow>) {
    setValues((v) => ({ ...v, instances: v.instances.map((r) => (r.key === key ? { ...r, ...patch } : r)) }));
    if (patch.url !== undefined) {
      setProbes((p) => {
        const next = { ...p };
        delete next[key];
        return next;
      });
    }
  }

  function addRow() {
    const row = newRow({ region: values.instances.at(-1)?.region ?? "primary" });
    setValues((v) => ({ ...v, instances: [...v.instances, row] }));
    // Focus the new row's URL once it is on the page.
    requestAnimationFrame(() => document.getElementById(fid(rowPath(values.instances.length, "url")))?.focus());
  }

  function removeRow(index: number) {
    const remaining = values.instances.length - 1;
    setValues((v) => ({ ...v, instances: v.instances.filter((_, i) => i !== index) }));
    // Row errors are positional; they no longer line up, so drop them.
    setErrors((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !k.startsWith("instances."))));
    requestAnimationFrame(() => {
      const next = document.getElementById(fid(rowPath(Math.min(index, remaining - 1), "url")));
      (next ?? addButtonRef.current)?.focus();
    });
  }

  function focusFirstProblem() {
    requestAnimationFrame(() => summaryRef.current?.focus());
  }

  /** Shows a new set of field errors, opening the collapsed gateway section when one is in it. */
  function showErrors(next: Record<string, string>) {
    setErrors(next);
    if (Object.keys(next).some((path) => gatewayPaths.has(path))) setGatewayOpen(true);
  }

  /** Focuses a field, first opening a collapsed section around it (a hidden input cannot take focus). */
  function focusField(path: string) {
    const el = document.getElementById(fid(path));
    const section = el?.closest("details");
    if (section && !section.open) {
      // Opened on the element itself so the input is focusable right now, not after React's next render.
      section.open = true;
      setGatewayOpen(true);
    }
    el?.focus();
  }

  function showServerErrors(err: unknown) {
    const list = fieldProblems(err);
    const next: Record<string, string> = {};
    const unplaced: string[] = [];
    for (const p of list) {
      // One message per access list, on its input: "access.services.2" → "access.services".
      const path = p.path.replace(/^(access\.(?:roles|services))\.\d+$/, "$1");
      const known = path && (fieldLabels[path] || /^instances\.\d+\.(url|region|weight|id)$/.test(path));
      if (known) {
        const key = /^instances\.\d+\.id$/.test(path) ? path.replace(/\.id$/, ".url") : path;
        next[key] ??= sentence(fieldLabel(path), p.message);
      } else unplaced.push(path ? `${rowPrefix(path)}${sentence(fieldLabel(path), p.message)}` : p.message);
    }
    if (isApiError(err) && list.length === 0) {
      if (err.code === "service_exists") {
        next.name = err.detail;
      } else if (/^(ssrf_|url_|dns_)/.test(err.code)) {
        // A URL refusal without a field path: put it on the instance it names, or the only one.
        const rows = values.instances;
        const index = rows.findIndex((r) => {
          try {
            return r.url !== "" && err.detail.includes(new URL(r.url).hostname);
          } catch {
            return false;
          }
        });
        const at = index >= 0 ? index : rows.length === 1 ? 0 : -1;
        if (at >= 0) next[rowPath(at, "url")] = err.detail;
        else unplaced.push(err.detail);
      } else {
        unplaced.push(err.detail);
      }
    } else if (!isApiError(err)) {
      unplaced.push("Something went wrong. Please try again.");
    }
    showErrors(next);
    setFormErrors(unplaced);
    focusFirstProblem();
  }

  function buildBody(): { body: ServiceInput | null; problems: Record<string, string> } {
    const problems: Record<string, string> = {};
    const name = values.name.trim();
    if (!name) problems.name = "Enter a name for the service.";
    if (mode === "create" && chooseTenant && !values.tenant)
      problems.tenant = "Choose the agency that owns the service.";
    const numbers: Partial<Record<NumberField, number>> = {};
    for (const f of numberFields) {
      const raw = values[f].trim();
      if (raw === "") continue; // the server's default (create) or unchanged (edit)
      const n = Number(raw);
      if (!Number.isInteger(n)) problems[f] = `${fieldLabels[f]} must be a whole number.`;
      else numbers[f] = n;
    }
    const instances = values.instances.map((r, i) => {
      const url = r.url.trim();
      if (!url) problems[rowPath(i, "url")] = "Enter the instance’s base URL, e.g. http://10.0.4.12:8080.";
      const weight = Number(r.weight.trim() || "1");
      if (!Number.isInteger(weight)) problems[rowPath(i, "weight")] = "Weight must be a whole number.";
      return {
        ...(r.id ? { id: r.id } : {}),
        url,
        region: r.region.trim() || "primary",
        weight,
      };
    });
    if (instances.length === 0) problems.instances = "Add at least one instance.";
    const accessServices = serviceList(values.accessServices);
    const badName = accessServices.find((n) => n !== "*" && !SERVICE_NAME.test(n));
    if (badName !== undefined) {
      problems["access.services"] =
        `“${badName}” is not a service name: use lowercase letters, digits and hyphens, or * for every service.`;
    }
    if (Object.keys(problems).length > 0) return { body: null, problems };
    const body: ServiceInput = {
      name,
      ...(mode === "create" && values.tenant ? { tenant: values.tenant } : {}),
      ...(values.description.trim()
        ? { description: values.description.trim() }
        : mode === "edit"
          ? { description: "" }
          : {}),
      healthPath: values.healthPath.trim() || defaults.healthPath,
      ...numbers,
      forwardIdentity: values.forwardIdentity,
      maintenance: values.maintenance,
      access: { roles: gatewayRoles.filter((r) => values.accessRoles[r]), services: accessServices },
      instances,
    };
    return { body, problems };
  }

  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const { body, problems } = buildBody();
    setFormErrors([]);
    showErrors(problems);
    if (!body) {
      focusFirstProblem();
      return;
    }
    save.mutate(body);
  }

  async function testUrl(row: InstanceRow) {
    const url = row.url.trim();
    if (!url) {
      setProbes((p) => ({ ...p, [row.key]: { state: "refused", message: "Enter a URL to test first." } }));
      return;
    }
    setProbes((p) => ({ ...p, [row.key]: { state: "pending" } }));
    const numberOr = (raw: string) => (Number.isInteger(Number(raw)) && raw.trim() !== "" ? Number(raw) : undefined);
    try {
      const result = await registryApi.probe({
        url,
        healthPath: values.healthPath.trim() || undefined,
        timeoutMs: numberOr(values.timeoutMs),
        latencyBudgetMs: numberOr(values.latencyBudgetMs),
      });
      setProbes((p) => ({ ...p, [row.key]: { state: "done", result } }));
    } catch (err) {
      const first = fieldProblems(err)[0];
      const message = first
        ? sentence(fieldLabel(first.path), first.message)
        : isApiError(err)
          ? err.detail
          : String(err);
      setProbes((p) => ({ ...p, [row.key]: { state: "refused", message } }));
    }
  }

  const allProblems: { path: string; text: string }[] = [
    ...Object.entries(errors).map(([path, text]) => ({
      path,
      text: `${rowPrefix(path)}${text}`,
    })),
    ...formErrors.map((text) => ({ path: "", text })),
  ];

  const field = (path: string) => ({
    id: fid(path),
    "aria-invalid": errors[path] ? true : undefined,
    "aria-describedby": [errors[path] ? `${fid(path)}-error` : null, `${fid(path)}-help`].filter(Boolean).join(" "),
  });

  const inputClass =
    "block w-full rounded border-2 border-ink bg-white px-3 py-2 aria-invalid:border-error-dark aria-invalid:ring-2 aria-invalid:ring-error-lighter";

  /** A gateway number as it would be saved: what was typed, else the starting value (for the plain-words rule). */
  const current = (f: (typeof gatewayNumberFields)[number]) => {
    const raw = values[f].trim();
    const n = Number(raw);
    return raw !== "" && Number.isInteger(n) ? n : Number(initial[f] || defaults[f]);
  };
  const gatewayErrors = Object.keys(errors).filter((path) => gatewayPaths.has(path)).length;
  const gatewayChanged = values.forwardIdentity || gatewayNumberFields.some((f) => current(f) !== Number(defaults[f]));
  const plural = (n: number, one: string) => `${n} ${n === 1 ? one : `${one}s`}`;

  if (saved) {
    return (
      <div role="status" className="space-y-3 rounded-md border-l-8 border-warning bg-warning-lighter p-4">
        <h2 className="text-xl font-bold">
          {mode === "create" ? `Registered ${saved.name}` : `Saved ${saved.name}`}, with{" "}
          {saved.warnings?.length === 1 ? "a warning" : "warnings"}
        </h2>
        <ul className="list-inside list-disc">
          {saved.warnings?.map((w, i) => (
            <li key={i}>
              {w.url && <span className="font-mono">{w.url}</span>}
              {w.url ? ": " : ""}
              {w.message}
            </li>
          ))}
        </ul>
        <p>
          <Link href={servicePageHref(saved.name, saved.tenant)} className="btn btn-primary">
            Go to the service page
          </Link>
        </p>
      </div>
    );
  }

  return (
    <form noValidate onSubmit={onSubmit} className="space-y-8" aria-describedby={`${uid}-intro`}>
      <p id={`${uid}-intro`} className="sr-only">
        {mode === "create" ? "Register a new service." : `Change the service ${originalName}.`}
      </p>

      {allProblems.length > 0 && (
        <div
          ref={summaryRef}
          tabIndex={-1}
          role="alert"
          aria-labelledby={`${uid}-summary`}
          className="space-y-2 rounded-md border-l-8 border-error-dark bg-error-lighter p-4"
        >
          <h2 id={`${uid}-summary`} className="text-lg font-bold">
            {allProblems.length === 1 ? "There is a problem" : `There are ${allProblems.length} problems`}
          </h2>
          <ul className="list-inside list-disc space-y-1">
            {allProblems.map((p, i) => (
              <li key={`${p.path}-${i}`}>
                {p.path ? (
                  <a
                    href={`#${fid(p.path)}`}
                    onClick={(e) => {
                      e.preventDefault();
                      focusField(p.path);
                    }}
                    className="font-semibold text-error-dark"
                  >
                    {p.text}
                  </a>
                ) : (
                  <span className="font-semibold">{p.text}</span>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}

      <fieldset className="card space-y-5">
        <legend className="px-1 text-xl font-bold">Service</legend>

        {mode === "create" && chooseTenant && (
          <Field
            label="Agency"
            path="tenant"
            fid={fid}
            error={errors.tenant}
            help="The agency that owns the service. Its operators see it on their board."
          >
            {tenants.length > 0 ? (
              <select
                {...field("tenant")}
                value={values.tenant}
                onChange={(e) => set("tenant", e.target.value)}
                className={inputClass}
              >
                <option value="">Choose an agency</option>
                {tenants.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            ) : (
              <input
                {...field("tenant")}
                value={values.tenant}
                onChange={(e) => set("tenant", e.target.value)}
                autoComplete="off"
                spellCheck={false}
                className={inputClass}
              />
            )}
          </Field>
        )}

        <Field
          label="Name"
          path="name"
          fid={fid}
          error={errors.name}
          help="Lowercase letters, digits and hyphens, like doc-review (up to 63). Unique within the agency; used in gateway URLs."
        >
          <input
            {...field("name")}
            value={values.name}
            onChange={(e) => set("name", e.target.value)}
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            maxLength={63}
            className={`${inputClass} font-mono`}
          />
        </Field>

        <Field
          label="Description (optional)"
          path="description"
          fid={fid}
          error={errors.description}
          help="What the service does, for the people on call."
        >
          <textarea
            {...field("description")}
            value={values.description}
            onChange={(e) => set("description", e.target.value)}
            rows={2}
            maxLength={500}
            className={inputClass}
          />
        </Field>
      </fieldset>

      <fieldset className="card space-y-5">
        <legend className="px-1 text-xl font-bold">Instances</legend>
        <p id={`${fid("instances")}-help`} className="text-muted">
          Where the service runs. Each instance is a base URL; health checks call it with the health path appended.
          Traffic goes to the primary region first, shared by weight.
        </p>
        {errors.instances && (
          <p id={`${fid("instances")}-error`} className="font-semibold text-error-dark">
            {errors.instances}
          </p>
        )}
        <datalist id={`${uid}-regions`}>
          <option value="primary" />
          <option value="secondary" />
        </datalist>

        <ol className="space-y-4" id={fid("instances")} tabIndex={-1}>
          {values.instances.map((row, index) => (
            <li key={row.key}>
              <fieldset className="space-y-3 rounded-md border border-line p-4">
                <legend className="px-1 font-bold">Instance {index + 1}</legend>
                <div className="grid gap-3 sm:grid-cols-[minmax(0,1fr)_9rem_6rem]">
                  <Field
                    label="URL"
                    path={rowPath(index, "url")}
                    fid={fid}
                    error={errors[rowPath(index, "url")]}
                    help="Base URL, e.g. http://10.0.4.12:8080"
                  >
                    <input
                      {...field(rowPath(index, "url"))}
                      type="url"
                      inputMode="url"
                      value={row.url}
                      onChange={(e) => setRow(row.key, { url: e.target.value })}
                      autoComplete="off"
                      spellCheck={false}
                      placeholder="http://host:port"
                      className={`${inputClass} font-mono`}
                    />
                  </Field>
                  <Field
                    label="Region"
                    path={rowPath(index, "region")}
                    fid={fid}
                    error={errors[rowPath(index, "region")]}
                    help="primary or secondary"
                  >
                    <input
                      {...field(rowPath(index, "region"))}
                      list={`${uid}-regions`}
                      value={row.region}
                      onChange={(e) => setRow(row.key, { region: e.target.value })}
                      autoComplete="off"
                      spellCheck={false}
                      className={inputClass}
                    />
                  </Field>
                  <Field
                    label="Weight"
                    path={rowPath(index, "weight")}
                    fid={fid}
                    error={errors[rowPath(index, "weight")]}
                    help="0–1000"
                  >
                    <input
                      {...field(rowPath(index, "weight"))}
                      type="number"
                      inputMode="numeric"
                      min={0}
                      max={1000}
                      step={1}
                      value={row.weight}
                      onChange={(e) => setRow(row.key, { weight: e.target.value })}
                      className={inputClass}
                    />
                  </Field>
                </div>
                <div className="flex flex-wrap items-start gap-3">
                  <button
                    type="button"
                    className="btn btn-secondary px-3 py-1.5 text-sm"
                    onClick={() => void testUrl(row)}
                    disabled={probes[row.key]?.state === "pending"}
                    aria-describedby={`${fid(rowPath(index, "probe"))}`}
                  >
                    {probes[row.key]?.state === "pending" ? "Testing…" : "Test this URL now"}
                  </button>
                  {values.instances.length > 1 && (
                    <button
                      type="button"
                      className="btn px-3 py-1.5 text-sm text-error-dark underline hover:bg-error-lighter"
                      onClick={() => removeRow(index)}
                    >
                      Remove instance {index + 1}
                    </button>
                  )}
                  <ProbeOutcome id={fid(rowPath(index, "probe"))} probe={probes[row.key]} />
                </div>
              </fieldset>
            </li>
          ))}
        </ol>
        <button ref={addButtonRef} type="button" className="btn btn-secondary" onClick={addRow}>
          <span aria-hidden="true">+</span> Add an instance
        </button>
      </fieldset>

      <fieldset className="card space-y-5">
        <legend className="px-1 text-xl font-bold">Health checks</legend>
        <Field
          label="Health path"
          path="healthPath"
          fid={fid}
          error={errors.healthPath}
          help='Appended to each instance URL. Answer 200 when healthy; an application/health+json body with "status": "warn" shows as degraded.'
        >
          <input
            {...field("healthPath")}
            value={values.healthPath}
            onChange={(e) => set("healthPath", e.target.value)}
            autoComplete="off"
            spellCheck={false}
            className={`${inputClass} font-mono`}
          />
        </Field>
        <div className="grid gap-5 sm:grid-cols-2 lg:grid-cols-3">
          {numberInput(
            "Check interval (seconds)",
            "checkIntervalSeconds",
            "How often each instance is checked: 5–3600.",
            5,
            3600,
          )}
          {numberInput("Timeout (ms)", "timeoutMs", "A check that takes longer fails: 100–30000.", 100, 30000)}
          {numberInput(
            "Latency budget (ms)",
            "latencyBudgetMs",
            "A passing check slower than this shows yellow: 10–60000.",
            10,
            60000,
          )}
          {numberInput(
            "Failure threshold",
            "failureThreshold",
            "Failed checks in a row before an instance turns red: 1–20.",
            1,
            20,
          )}
          {numberInput(
            "Success threshold",
            "successThreshold",
            "Passing checks in a row before a red instance is trusted again: 1–20.",
            1,
            20,
          )}
        </div>
        <div className="flex items-start gap-3">
          <input
            id={fid("maintenance")}
            type="checkbox"
            checked={values.maintenance}
            onChange={(e) => set("maintenance", e.target.checked)}
            aria-describedby={`${fid("maintenance")}-help`}
            className="mt-1 h-5 w-5 accent-primary"
          />
          <div>
            <label htmlFor={fid("maintenance")} className="font-bold">
              In maintenance
            </label>
            <p id={`${fid("maintenance")}-help`} className="text-sm text-muted">
              Checks keep running, but the service is not counted as an outage.
            </p>
          </div>
        </div>
      </fieldset>

      <details
        className="card"
        open={gatewayOpen}
        onToggle={(e) => setGatewayOpen(e.currentTarget.open)}
        data-testid="gateway-settings"
      >
        <summary className="cursor-pointer text-xl font-bold">
          Gateway and circuit breaker{" "}
          <span className="text-base font-normal text-muted">
            ({gatewayChanged ? "changed from the defaults" : "defaults"})
          </span>
          {gatewayErrors > 0 && (
            <span className="ml-2 text-base font-semibold text-error-dark">
              {gatewayErrors === 1 ? "1 problem" : `${gatewayErrors} problems`}
            </span>
          )}
        </summary>
        {/* A fieldset inside the disclosure: the legend names the group for screen readers once it is open. */}
        <fieldset className="mt-5 space-y-5">
          <legend className="sr-only">Gateway and circuit breaker</legend>
          <p className="text-muted">
            How calls through the gateway (<span className="font-mono">/api/v1/gw/{values.name || "<name>"}/…</span>)
            reach this service, and when an instance’s breaker stops sending it traffic. The defaults suit most
            services.
          </p>
          <div className="grid gap-5 sm:grid-cols-2 lg:grid-cols-3">
            {numberInput(
              "Gateway timeout (ms)",
              "gatewayTimeoutMs",
              "A call the instance does not answer in time fails (504) and counts against its breaker: 100–120000. Health checks have their own timeout.",
              100,
              120000,
            )}
          </div>
          <div className="flex items-start gap-3">
            <input
              id={fid("forwardIdentity")}
              type="checkbox"
              checked={values.forwardIdentity}
              onChange={(e) => set("forwardIdentity", e.target.checked)}
              aria-invalid={errors.forwardIdentity ? true : undefined}
              aria-describedby={[
                errors.forwardIdentity ? `${fid("forwardIdentity")}-error` : null,
                `${fid("forwardIdentity")}-help`,
              ]
                .filter(Boolean)
                .join(" ")}
              className="mt-1 h-5 w-5 accent-primary"
            />
            <div>
              <label htmlFor={fid("forwardIdentity")} className="font-bold">
                Send the caller’s identity
              </label>
              <p id={`${fid("forwardIdentity")}-help`} className="text-sm text-muted">
                The instance gets a 60 s token for this service that names the caller, never the caller’s own token.
                Off: the caller’s credentials are removed before forwarding.
              </p>
              {errors.forwardIdentity && (
                <p
                  id={`${fid("forwardIdentity")}-error`}
                  className="font-semibold text-error-dark"
                  data-field-error="forwardIdentity"
                >
                  <span className="sr-only">Error: </span>
                  {errors.forwardIdentity}
                </p>
              )}
            </div>
          </div>

          <h3 className="text-lg font-bold">Circuit breaker (one per instance)</h3>
          <p className="text-muted" data-testid="breaker-rule">
            With these values: an instance’s breaker opens at ≥ {current("breakerFailureRatePct")}% failures over{" "}
            {current("breakerWindowSeconds")} s once that window holds at least{" "}
            {plural(current("breakerMinCalls"), "call")}, or after{" "}
            {plural(current("breakerConsecutiveFailures"), "failure")} in a row. It stays open{" "}
            {current("breakerOpenSeconds")} s (longer after repeated trips), then lets{" "}
            {plural(current("breakerHalfOpenCalls"), "trial call")} through.
          </p>
          <div className="grid gap-5 sm:grid-cols-2 lg:grid-cols-3">
            {numberInput(
              "Failure rate (%)",
              "breakerFailureRatePct",
              "Open at ≥ this share of failed calls in the window: 1–100.",
              1,
              100,
            )}
            {numberInput(
              "Minimum calls",
              "breakerMinCalls",
              "The rate counts only once the window holds this many calls: 1–10000.",
              1,
              10000,
            )}
            {numberInput(
              "Window (seconds)",
              "breakerWindowSeconds",
              "How far back the failure rate looks: 1–300.",
              1,
              300,
            )}
            {numberInput(
              "Failures in a row",
              "breakerConsecutiveFailures",
              "Open after this many failures or timeouts in a row, whatever the rate: 1–1000.",
              1,
              1000,
            )}
            {numberInput(
              "Open period (seconds)",
              "breakerOpenSeconds",
              "How long an open breaker turns calls away before trying again; repeated trips wait longer: 1–3600.",
              1,
              3600,
            )}
            {numberInput(
              "Trial calls",
              "breakerHalfOpenCalls",
              "Calls let through after the open period; that many successes close it, a failure reopens it: 1–100.",
              1,
              100,
            )}
          </div>
        </fieldset>
      </details>

      <fieldset className="card space-y-5" aria-describedby={`${fid("access")}-help`} data-testid="gateway-access">
        <legend className="px-1 text-xl font-bold">Who may call it through the gateway</legend>
        <p id={`${fid("access")}-help`} className="text-muted">
          Calls to <span className="font-mono">/api/v1/gw/{values.name || "<name>"}/…</span> from anyone else are
          refused (403) before they reach the service. Only callers of this service’s own agency can ever reach it.
        </p>
        {errors.access && (
          <p id={`${fid("access")}-error`} className="font-semibold text-error-dark" data-field-error="access">
            <span className="sr-only">Error: </span>
            {errors.access}
          </p>
        )}
        <fieldset
          className="space-y-3"
          aria-describedby={errors["access.roles"] ? `${fid("access.roles")}-error` : undefined}
        >
          <legend className="font-bold">People, by role</legend>
          {errors["access.roles"] && (
            <p
              id={`${fid("access.roles")}-error`}
              className="font-semibold text-error-dark"
              data-field-error="access.roles"
            >
              <span className="sr-only">Error: </span>
              {errors["access.roles"]}
            </p>
          )}
          {gatewayRoles.map((role, i) => {
            // The first box carries the group's id, so an error summary link can focus the group.
            const id = i === 0 ? fid("access.roles") : fid(`access.roles.${role}`);
            return (
              <div key={role} className="flex items-start gap-3">
                <input
                  id={id}
                  type="checkbox"
                  checked={values.accessRoles[role]}
                  onChange={(e) => set("accessRoles", { ...values.accessRoles, [role]: e.target.checked })}
                  aria-describedby={`${id}-help`}
                  className="mt-1 h-5 w-5 accent-primary"
                />
                <div>
                  <label htmlFor={id} className="font-bold">
                    {roleNames[role]}
                  </label>
                  <p id={`${id}-help`} className="text-sm text-muted">
                    {roleHelp[role]}
                  </p>
                </div>
              </div>
            );
          })}
        </fieldset>
        <Field
          label="Services (by service token)"
          path="access.services"
          fid={fid}
          error={errors["access.services"]}
          help="Names of the agency’s services whose service tokens may call it, separated by commas, e.g. “billing, notify”. * lets every service token of the agency in; leave it empty to let none in."
        >
          <input
            {...field("access.services")}
            value={values.accessServices}
            onChange={(e) => set("accessServices", e.target.value)}
            autoComplete="off"
            spellCheck={false}
            className={`${inputClass} font-mono`}
          />
        </Field>
        <p className="text-muted" data-testid="access-rule">
          {describeGatewayAccess({
            roles: gatewayRoles.filter((r) => values.accessRoles[r]),
            services: serviceList(values.accessServices),
          })}
        </p>
      </fieldset>

      <div className="flex flex-wrap items-center gap-3">
        <button type="submit" className="btn btn-primary text-lg" disabled={save.isPending}>
          {save.isPending ? "Saving…" : mode === "create" ? "Register service" : "Save changes"}
        </button>
        <Link
          href={mode === "edit" && originalName ? servicePageHref(originalName, tenantParam) : "/admin/services"}
          className="btn btn-secondary"
        >
          Cancel
        </Link>
      </div>
    </form>
  );

  // A plain function, not a component: a component declared in here would remount (and lose focus) on each keystroke.
  function numberInput(label: string, path: NumberField, help: string, min: number, max: number) {
    return (
      <Field label={label} path={path} fid={fid} error={errors[path]} help={help}>
        <input
          {...field(path)}
          type="number"
          inputMode="numeric"
          min={min}
          max={max}
          step={1}
          value={values[path]}
          onChange={(e) => set(path, e.target.value)}
          className={inputClass}
        />
      </Field>
    );
  }
}

function Field({
  label,
  path,
  fid,
  error,
  help,
  children,
}: {
  label: string;
  path: string;
  fid: (path: string) => string;
  error: string | undefined;
  help: string;
  children: ReactNode;
}) {
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={fid(path)} className="block font-bold">
        {label}
      </label>
      <p id={`${fid(path)}-help`} className="text-sm text-muted">
        {help}
      </p>
      {error && (
        <p id={`${fid(path)}-error`} className="font-semibold text-error-dark" data-field-error={path}>
          <span className="sr-only">Error: </span>
          {error}
        </p>
      )}
      {/* pushed to the bottom, so inputs side by side line up whatever the length of their help text */}
      <div className="mt-auto">{children}</div>
    </div>
  );
}

function ProbeOutcome({ id, probe }: { id: string; probe: ProbeState | undefined }) {
  let body: ReactNode = null;
  if (probe?.state === "pending") body = <span className="text-muted">Checking…</span>;
  else if (probe?.state === "refused") {
    body = (
      <span className="inline-flex items-start gap-1.5 font-semibold text-error-dark">
        <HealthIcon status="red" className="mt-0.5 h-4 w-4 shrink-0" />
        Not tested: {probe.message}
      </span>
    );
  } else if (probe?.state === "done") {
    const r = probe.result;
    const status = r.outcome === "pass" ? "green" : r.outcome === "warn" ? "yellow" : "red";
    const word = r.outcome === "pass" ? "Passes" : r.outcome === "warn" ? "Passes, with a warning" : "Fails";
    const facts = [
      r.httpStatus !== null && r.httpStatus !== undefined ? `HTTP ${r.httpStatus}` : null,
      r.latencyMs !== null && r.latencyMs !== undefined ? formatLatency(r.latencyMs) : null,
    ]
      .filter(Boolean)
      .join(", ");
    body = (
      <span
        className={`inline-flex items-start gap-1.5 font-semibold ${
          status === "green" ? "text-success-dark" : status === "yellow" ? "text-ink" : "text-error-dark"
        }`}
      >
        <HealthIcon status={status} className="mt-0.5 h-4 w-4 shrink-0" />
        <span>
          {word}
          {facts ? ` (${facts})` : ""}
          {r.reason ? ` — ${r.reason}` : ""}
        </span>
      </span>
    );
  }
  return (
    <p id={id} role="status" className="min-h-[1.5rem] flex-1 basis-64 text-sm" data-testid="probe-outcome">
      {body}
    </p>
  );
}
