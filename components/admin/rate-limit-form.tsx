"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useId, useRef, useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from "react";
import { z } from "zod";
import { limitInput, RPS_MAX, type LimitView } from "@/lib/ratelimit/limits-contract";
import { Ago } from "../board/ago";
import { ConfirmDialog } from "../board/confirm-dialog";
import { DataTable } from "../data-table";
import { apiErrorFrom, type ApiError } from "../queries/api-error";

export interface TenantLimitsView {
  tenant: string;
  limits: LimitView[];
  /** the agency's registered services, offered in the form */
  services: string[];
}

type Field = "tenant" | "service" | "rps" | "burst" | "perCallerRps" | "perCallerBurst";
interface FormValues {
  tenant: string;
  service: string;
  rps: string;
  burst: string;
  perCallerRps: string;
  perCallerBurst: string;
}
/** The PUT body: `limitInput` (lib/ratelimit/limits-contract.ts) checks it here as the server does. */
interface LimitBody {
  rps: number;
  burst: number;
  service?: string;
  perCaller?: { rps: number; burst: number };
}

const labels: Record<Field, string> = {
  tenant: "Agency",
  service: "Service",
  rps: "Requests per second",
  burst: "Burst",
  perCallerRps: "Requests per second for each caller",
  perCallerBurst: "Burst for each caller",
};

type NumberField = "rps" | "burst" | "perCallerRps" | "perCallerBurst";
const numberHelp: Record<NumberField, string> = {
  rps: "The steady rate allowed, above 0 (fractions such as 0.5 are fine).",
  burst: "How many requests may arrive at once after a quiet spell: a whole number, at least 1.",
  perCallerRps: "Optional. Each user or service token gets at most this rate, inside the agency’s limit.",
  perCallerBurst: "Optional, with the rate above: each caller’s burst, a whole number, at least 1.",
};

/** A field error path of the API (`perCaller.rps`) → the form field that shows it. */
function fieldOfPath(path: string): Field | null {
  if (path === "rps" || path === "burst" || path === "service") return path;
  if (path === "perCaller.burst") return "perCallerBurst";
  if (path === "perCaller" || path.startsWith("perCaller.")) return "perCallerRps";
  return null;
}

// --- API --------------------------------------------------------------------------------------

/** A refused write: the problem's words, plus its field errors (`errors[]` of a 422). */
class WriteError extends Error {
  constructor(
    readonly problem: ApiError,
    readonly fields: { path: string; message: string }[],
  ) {
    super(problem.detail);
  }
}

const fieldErrorsSchema = z.object({ errors: z.array(z.object({ path: z.string(), message: z.string() })) });

const limitsUrl = (tenant: string, service?: string | null) =>
  `/api/v1/tenants/${encodeURIComponent(tenant)}/limits${service ? `?service=${encodeURIComponent(service)}` : ""}`;

async function send(method: "PUT" | "DELETE", url: string, body?: LimitBody): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: body
        ? { accept: "application/json", "content-type": "application/json" }
        : { accept: "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new WriteError(apiErrorFrom(0, ""), []);
  }
  if (res.ok) return;
  const text = await res.text();
  let fields: { path: string; message: string }[] = [];
  try {
    const parsed = fieldErrorsSchema.safeParse(JSON.parse(text));
    if (parsed.success) fields = parsed.data.errors;
  } catch {
    // not JSON: no field errors
  }
  throw new WriteError(apiErrorFrom(res.status, text), fields);
}

// --- words ------------------------------------------------------------------------------------

const rpsFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 });

function scopeWords(l: { tenant: string; service: string | null }): string {
  return l.service ? `${l.service} in ${l.tenant}` : `all of ${l.tenant}’s traffic`;
}

function perCallerWords(p: { rps: number; burst: number } | null | undefined): string {
  return p ? ` Each caller: ${rpsFormat.format(p.rps)} requests per second, burst ${p.burst}.` : "";
}

/** "must be more than 0" from the server reads as a sentence after the field's label. */
function sentence(field: Field, message: string): string {
  const m = message.trim();
  return /^[a-z]/.test(m) ? `${labels[field]} ${m}${/[.!?]$/.test(m) ? "" : "."}` : m;
}

// --- the component ----------------------------------------------------------------------------

/**
 * The admin's rate limits: every agency with its limit for all traffic and its per-service limits
 * (edit and delete each), and one form to set a limit. Data comes from the server page; after a
 * write the page is refreshed in place.
 */
export function RateLimitForm({ tenants, chooseTenant }: { tenants: TenantLimitsView[]; chooseTenant: boolean }) {
  const router = useRouter();
  const uid = useId();
  const fid = (f: Field) => `${uid}-${f}`;
  const fixedTenant = chooseTenant ? null : (tenants[0]?.tenant ?? null);
  const [values, setValues] = useState<FormValues>({
    tenant: fixedTenant ?? "",
    service: "",
    rps: "",
    burst: "",
    perCallerRps: "",
    perCallerBurst: "",
  });
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [announcement, setAnnouncement] = useState("");
  const [deleting, setDeleting] = useState<LimitView | null>(null);
  const summaryRef = useRef<HTMLDivElement>(null);

  const tenant = fixedTenant ?? values.tenant;
  const servicesOfTenant = tenants.find((t) => t.tenant === tenant)?.services ?? [];
  const anyLimit = tenants.some((t) => t.limits.length > 0);

  const save = useMutation({
    mutationFn: (v: { tenant: string; body: LimitBody }) => send("PUT", limitsUrl(v.tenant), v.body),
    onSuccess: (_, v) => {
      setErrors({});
      setFormErrors([]);
      setAnnouncement(
        `Saved: ${scopeWords({ tenant: v.tenant, service: v.body.service ?? null })} is limited to ` +
          `${rpsFormat.format(v.body.rps)} requests per second, burst ${v.body.burst}.` +
          perCallerWords(v.body.perCaller),
      );
      router.refresh();
    },
    onError: (err) => showServerErrors(err),
  });

  const remove = useMutation({
    mutationFn: (l: LimitView) => send("DELETE", limitsUrl(l.tenant, l.service)),
    onSuccess: (_, l) => {
      setDeleting(null);
      setAnnouncement(`Deleted the limit on ${scopeWords(l)}. It is unlimited now unless a wider limit applies.`);
      router.refresh();
    },
  });

  function set(field: Field, value: string) {
    setValues((v) => ({ ...v, [field]: value }));
  }

  function focusSummary() {
    requestAnimationFrame(() => summaryRef.current?.focus());
  }

  function showServerErrors(err: unknown) {
    const next: Partial<Record<Field, string>> = {};
    const unplaced: string[] = [];
    if (err instanceof WriteError) {
      for (const f of err.fields) {
        const at = fieldOfPath(f.path);
        if (at) next[at] ??= sentence(at, f.message);
        else unplaced.push(f.message);
      }
      if (err.fields.length === 0) {
        const p = err.problem;
        if (chooseTenant && (p.code === "not_found" || p.code === "tenant_forbidden")) next.tenant = p.detail;
        else unplaced.push(p.detail);
      }
    } else {
      unplaced.push("Something went wrong. Please try again.");
    }
    setErrors(next);
    setFormErrors(unplaced);
    setAnnouncement("");
    focusSummary();
  }

  function edit(l: LimitView) {
    setValues({
      tenant: l.tenant,
      service: l.service ?? "",
      rps: String(l.rps),
      burst: String(l.burst),
      perCallerRps: l.perCaller ? String(l.perCaller.rps) : "",
      perCallerBurst: l.perCaller ? String(l.perCaller.burst) : "",
    });
    setErrors({});
    setFormErrors([]);
    requestAnimationFrame(() => {
      const el = document.getElementById(fid("rps"));
      el?.scrollIntoView({ block: "center" });
      el?.focus();
    });
  }

  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const problems: Partial<Record<Field, string>> = {};
    if (!tenant) problems.tenant = "Choose the agency to limit.";
    const rps = Number(values.rps.trim());
    if (values.rps.trim() === "" || !Number.isFinite(rps) || rps <= 0) {
      problems.rps = "Enter the requests per second: a number above 0, such as 50 or 0.5.";
    }
    const burst = Number(values.burst.trim());
    if (values.burst.trim() === "" || !Number.isInteger(burst) || burst < 1) {
      problems.burst = "Enter the burst: a whole number of requests, at least 1.";
    }
    const service = values.service.trim();
    const pcRpsText = values.perCallerRps.trim();
    const pcBurstText = values.perCallerBurst.trim();
    const pcRps = Number(pcRpsText);
    const pcBurst = Number(pcBurstText);
    const withPerCaller = pcRpsText !== "" || pcBurstText !== "";
    if (withPerCaller && service) {
      problems.perCallerRps =
        "A limit for each caller applies to the agency’s limit for all traffic only: empty the service, or the per-caller fields.";
    } else if (withPerCaller) {
      if (pcRpsText === "" || !Number.isFinite(pcRps) || pcRps <= 0) {
        problems.perCallerRps =
          "Enter each caller’s requests per second: a number above 0, or empty both per-caller fields.";
      }
      if (pcBurstText === "" || !Number.isInteger(pcBurst) || pcBurst < 1) {
        problems.perCallerBurst =
          "Enter each caller’s burst: a whole number, at least 1, or empty both per-caller fields.";
      }
    }
    const body: LimitBody = {
      rps,
      burst,
      ...(service ? { service } : {}),
      ...(withPerCaller ? { perCaller: { rps: pcRps, burst: pcBurst } } : {}),
    };
    // Then the API's own rules (bounds, service name), with the API's words.
    if (Object.keys(problems).length === 0) {
      const checked = limitInput.safeParse(body);
      if (!checked.success) {
        for (const issue of checked.error.issues) {
          const at = fieldOfPath(issue.path.join("."));
          if (at) problems[at] ??= sentence(at, issue.message);
        }
      }
    }
    setFormErrors([]);
    setErrors(problems);
    setAnnouncement("");
    if (Object.keys(problems).length > 0) {
      focusSummary();
      return;
    }
    save.mutate({ tenant, body });
  }

  const field = (f: Field) => ({
    id: fid(f),
    "aria-invalid": errors[f] ? true : undefined,
    "aria-describedby": [errors[f] ? `${fid(f)}-error` : null, `${fid(f)}-help`].filter(Boolean).join(" "),
  });
  const inputClass =
    "block w-full rounded border-2 border-ink bg-white px-3 py-2 aria-invalid:border-error-dark aria-invalid:ring-2 aria-invalid:ring-error-lighter";
  /** The rate and burst fields: the same number input, each with its own help and bounds. */
  const numberField = (f: NumberField, bounds: InputHTMLAttributes<HTMLInputElement>) => (
    <FormField label={labels[f]} id={fid(f)} error={errors[f]} help={numberHelp[f]}>
      <input
        {...field(f)}
        type="number"
        {...bounds}
        value={values[f]}
        onChange={(e) => set(f, e.target.value)}
        className={inputClass}
      />
    </FormField>
  );
  const problems = [
    ...(Object.entries(errors) as [Field, string][]).map(([f, text]) => ({ f, text })),
    ...formErrors.map((text) => ({ f: null, text })),
  ];

  return (
    <div className="space-y-8">
      <p role="status" className="font-semibold">
        {announcement}
      </p>

      {!anyLimit ? (
        <div className="rounded-md border border-line bg-surface p-6 text-center">
          <p className="text-lg font-semibold">No limits: traffic is unlimited. Set one below.</p>
        </div>
      ) : (
        <DataTable
          labelledBy={`${uid}-caption`}
          caption="Rate limits by agency"
          columns={[
            { key: "agency", label: "Agency" },
            { key: "all", label: "All traffic" },
            { key: "services", label: "Per service" },
          ]}
        >
          {tenants.map((t) => {
            const wide = t.limits.find((l) => l.service === null);
            const perService = t.limits.filter((l) => l.service !== null);
            return (
              <tr key={t.tenant} className="border-t border-line align-top">
                <th scope="row" className="px-3 py-2 font-mono font-semibold">
                  {t.tenant}
                </th>
                <td className="px-3 py-2">
                  {wide ? (
                    <LimitCell limit={wide} onEdit={edit} onDelete={setDeleting} />
                  ) : (
                    <span className="text-muted">Unlimited</span>
                  )}
                </td>
                <td className="px-3 py-2">
                  {perService.length === 0 ? (
                    <span className="text-muted">None</span>
                  ) : (
                    <ul className="space-y-3">
                      {perService.map((l) => (
                        <li key={l.service}>
                          <span className="font-mono font-semibold">{l.service}</span>
                          <LimitCell limit={l} onEdit={edit} onDelete={setDeleting} />
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}

      <form noValidate onSubmit={onSubmit} className="card max-w-3xl space-y-5" aria-labelledby={`${uid}-title`}>
        <h2 id={`${uid}-title`} className="text-xl font-bold">
          Set a limit
        </h2>
        <p className="text-muted">
          A limit for all of an agency’s traffic covers its gateway calls and claim uploads. A limit for one service
          applies to gateway calls to that service, on top of the agency’s limit. Setting a limit again replaces it and
          starts it with a full burst.
        </p>

        {problems.length > 0 && (
          <div
            ref={summaryRef}
            tabIndex={-1}
            role="alert"
            aria-labelledby={`${uid}-summary`}
            className="space-y-2 rounded-md border-l-8 border-error-dark bg-error-lighter p-4"
          >
            <h3 id={`${uid}-summary`} className="text-lg font-bold">
              {problems.length === 1 ? "There is a problem" : `There are ${problems.length} problems`}
            </h3>
            <ul className="list-inside list-disc space-y-1">
              {problems.map((p, i) =>
                p.f ? (
                  <li key={`${p.f}-${i}`}>
                    <a href={`#${fid(p.f)}`} className="font-semibold">
                      {p.text}
                    </a>
                  </li>
                ) : (
                  <li key={`form-${i}`}>{p.text}</li>
                ),
              )}
            </ul>
          </div>
        )}

        {chooseTenant ? (
          <FormField label={labels.tenant} id={fid("tenant")} error={errors.tenant} help="The agency the limit is for.">
            <select
              {...field("tenant")}
              value={values.tenant}
              onChange={(e) => set("tenant", e.target.value)}
              className={inputClass}
            >
              <option value="">Choose an agency</option>
              {tenants.map((t) => (
                <option key={t.tenant} value={t.tenant}>
                  {t.tenant}
                </option>
              ))}
            </select>
          </FormField>
        ) : (
          <p>
            <span className="font-bold">Agency:</span> <span className="font-mono">{fixedTenant ?? "—"}</span>
          </p>
        )}

        <FormField
          label={`${labels.service} (optional)`}
          id={fid("service")}
          error={errors.service}
          help={`Leave empty to limit all of the agency’s traffic.${
            !tenant
              ? ""
              : servicesOfTenant.length > 0
                ? ` Registered: ${servicesOfTenant.join(", ")}.`
                : " The agency has no registered services yet."
          }`}
        >
          <input
            {...field("service")}
            list={`${uid}-services`}
            value={values.service}
            onChange={(e) => set("service", e.target.value)}
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            maxLength={63}
            className={`${inputClass} font-mono`}
          />
          <datalist id={`${uid}-services`}>
            {servicesOfTenant.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </FormField>

        <div className="grid gap-5 sm:grid-cols-2">
          {numberField("rps", { inputMode: "decimal", min: 0, max: RPS_MAX, step: "any" })}
          {numberField("burst", { inputMode: "numeric", min: 1, step: 1 })}
        </div>

        <fieldset className="space-y-3" aria-describedby={`${uid}-per-caller-help`}>
          <legend className="font-bold">Limit for each caller (optional)</legend>
          <p id={`${uid}-per-caller-help`} className="text-sm text-muted">
            So one user or service token cannot use up the agency’s whole limit. Only with the agency’s limit for all
            traffic (no service). Leave both empty for none; saving without them removes an existing one.
          </p>
          <div className="grid gap-5 sm:grid-cols-2">
            {numberField("perCallerRps", { inputMode: "decimal", min: 0, max: RPS_MAX, step: "any" })}
            {numberField("perCallerBurst", { inputMode: "numeric", min: 1, step: 1 })}
          </div>
        </fieldset>

        <button type="submit" className="btn btn-primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save limit"}
        </button>
      </form>

      <ConfirmDialog
        open={deleting !== null}
        title="Delete this limit?"
        confirmLabel="Delete limit"
        destructive
        pending={remove.isPending}
        error={remove.isError ? remove.error.message : null}
        onCancel={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
      >
        <p>
          {deleting && (
            <>
              The limit on <strong>{scopeWords(deleting)}</strong> ({rpsFormat.format(deleting.rps)} requests per
              second, burst {deleting.burst}
              {deleting.perCaller ? ", and its limit for each caller" : ""}) is removed, and every replica stops
              applying it within a second.
            </>
          )}
        </p>
      </ConfirmDialog>
    </div>
  );
}

function LimitCell({
  limit,
  onEdit,
  onDelete,
}: {
  limit: LimitView;
  onEdit: (l: LimitView) => void;
  onDelete: (l: LimitView) => void;
}) {
  const what = scopeWords(limit);
  return (
    <div className="space-y-1">
      <p>
        <strong className="tabular-nums">{rpsFormat.format(limit.rps)}</strong> requests/s, burst{" "}
        <strong className="tabular-nums">{limit.burst}</strong>
      </p>
      {limit.perCaller && (
        <p>
          each caller: <strong className="tabular-nums">{rpsFormat.format(limit.perCaller.rps)}</strong> requests/s,
          burst <strong className="tabular-nums">{limit.perCaller.burst}</strong>
        </p>
      )}
      <p className="text-xs text-muted">
        by {limit.updatedBy}, <Ago iso={limit.updatedAt} />
      </p>
      <p className="flex flex-wrap gap-2">
        <button
          type="button"
          className="btn btn-secondary px-3 py-1 text-sm"
          aria-label={`Edit the limit on ${what}`}
          onClick={() => onEdit(limit)}
        >
          Edit
        </button>
        <button
          type="button"
          className="btn px-3 py-1 text-sm text-error-dark ring-2 ring-error-dark ring-inset hover:bg-error-lighter"
          aria-label={`Delete the limit on ${what}`}
          onClick={() => onDelete(limit)}
        >
          Delete
        </button>
      </p>
    </div>
  );
}

function FormField({
  label,
  id,
  error,
  help,
  children,
}: {
  label: string;
  id: string;
  error: string | undefined;
  help: string;
  children: ReactNode;
}) {
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="block font-bold">
        {label}
      </label>
      <p id={`${id}-help`} className="text-sm text-muted">
        {help}
      </p>
      {error && (
        <p id={`${id}-error`} className="font-semibold text-error-dark" data-field-error>
          <span className="sr-only">Error: </span>
          {error}
        </p>
      )}
      <div className="mt-auto">{children}</div>
    </div>
  );
}
