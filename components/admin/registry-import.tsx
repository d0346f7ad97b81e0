"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useId, useRef, useState, type ChangeEvent } from "react";
import { isApiError } from "../queries/api-error";
import { TenantPicker } from "../board/tenant-picker";
import {
  fieldProblems,
  registryApi,
  registryQueries,
  withTenant,
  type FieldProblem,
  type ImportResult,
} from "../queries/registry";

interface ImportInput {
  yaml: string;
  prune: boolean;
  /** a global admin's agency for services that do not name one (and the scope of prune) */
  tenant: string | null;
}

const MAX_FILE_BYTES = 2 * 1024 * 1024;

/** The character offset of a 1-based line and column in `text` (clamped to the text). */
export function offsetOf(text: string, line: number, column = 1): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", offset);
    if (nl === -1) return text.length;
    offset = nl + 1;
  }
  const end = text.indexOf("\n", offset);
  const lineLength = (end === -1 ? text.length : end) - offset;
  return offset + Math.min(Math.max(column - 1, 0), lineLength);
}

function position(e: FieldProblem): string {
  if (e.line === undefined) return "";
  return e.column === undefined ? `Line ${e.line}` : `Line ${e.line}, column ${e.column}`;
}

/**
 * registry.yml in, plan out: paste or choose a file, preview what an import would create,
 * change and remove (a dry run that stores nothing), then apply exactly that. Errors name the
 * line and column; choosing one puts the caret there.
 */
export function RegistryImport({ tenants, chooseTenant }: { tenants: readonly string[]; chooseTenant: boolean }) {
  const uid = useId();
  const queryClient = useQueryClient();
  const textRef = useRef<HTMLTextAreaElement>(null);
  const [yaml, setYaml] = useState("");
  const [prune, setPrune] = useState(false);
  const [tenant, setTenant] = useState<string | null>(null);
  const [fileNote, setFileNote] = useState<string | null>(null);
  /** the text and options a preview was made for; "Apply" applies only that */
  const [previewed, setPreviewed] = useState<(ImportInput & { result: ImportResult }) | null>(null);
  const [applied, setApplied] = useState<ImportResult | null>(null);

  const preview = useMutation({
    mutationFn: (input: ImportInput) =>
      registryApi.importRegistry(input.yaml, { dryRun: true, prune: input.prune, tenant: input.tenant }),
    onSuccess: (result, input) => {
      setApplied(null);
      setPreviewed({ ...input, result });
    },
    onError: () => setPreviewed(null),
  });

  const apply = useMutation({
    mutationFn: (input: ImportInput) =>
      registryApi.importRegistry(input.yaml, { dryRun: false, prune: input.prune, tenant: input.tenant }),
    onSuccess: async (result) => {
      setApplied(result);
      setPreviewed(null);
      await queryClient.invalidateQueries({ queryKey: registryQueries.all() });
    },
  });

  const loadCurrent = useMutation({
    mutationFn: async () => {
      const res = await fetch(withTenant("/api/v1/registry/export", tenant), {
        headers: { accept: "text/yaml" },
        credentials: "same-origin",
      });
      if (!res.ok) throw new Error(`The export answered ${res.status}.`);
      return res.text();
    },
    onSuccess: (text) => {
      setYaml(text);
      setPreviewed(null);
      setFileNote("Loaded the current registry. Change it, then preview.");
    },
  });

  const stale =
    previewed !== null && (previewed.yaml !== yaml || previewed.prune !== prune || previewed.tenant !== tenant);
  const error = apply.error ?? preview.error;
  const problems = fieldProblems(error);

  function goTo(p: FieldProblem) {
    const ta = textRef.current;
    if (!ta || p.line === undefined) return;
    const at = offsetOf(ta.value, p.line, p.column ?? 1);
    ta.focus();
    ta.setSelectionRange(at, at);
    const lineHeight = Number.parseFloat(getComputedStyle(ta).lineHeight) || 20;
    ta.scrollTop = Math.max(0, (p.line - 3) * lineHeight);
  }

  async function onFile(e: ChangeEvent<HTMLInputElement>) {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) {
      setFileNote(`“${file.name}” is larger than 2 MB; a registry file should be much smaller.`);
      return;
    }
    setYaml(await file.text());
    setPreviewed(null);
    setApplied(null);
    preview.reset();
    apply.reset();
    setFileNote(`Loaded “${file.name}”. Preview it to see what would change.`);
  }

  const plan = previewed?.result.plan;
  const changes = plan ? plan.create.length + plan.update.length + plan.remove.length : 0;

  return (
    <div className="space-y-8">
      <section aria-labelledby={`${uid}-source`} className="card space-y-4">
        <h2 id={`${uid}-source`} className="text-2xl font-bold">
          1. The file
        </h2>
        <div className="flex flex-wrap items-center gap-3">
          <label className="btn btn-secondary cursor-pointer has-focus-visible:outline-3 has-focus-visible:outline-focus">
            Choose a .yml file
            <input
              type="file"
              accept=".yml,.yaml,text/yaml,application/yaml"
              onChange={(e) => void onFile(e)}
              className="sr-only"
            />
          </label>
          <button
            type="button"
            className="btn btn-secondary"
            onClick={() => loadCurrent.mutate()}
            disabled={loadCurrent.isPending}
          >
            {loadCurrent.isPending ? "Loading…" : "Start from the current registry"}
          </button>
          <p role="status" className="text-sm">
            {loadCurrent.isError ? `Couldn’t load the current registry: ${loadCurrent.error.message}` : fileNote}
          </p>
        </div>
        <div className="space-y-1">
          <label htmlFor={`${uid}-yaml`} className="block font-bold">
            registry.yml
          </label>
          <p id={`${uid}-yaml-help`} className="text-sm text-muted">
            Paste the file or choose it above. Services are matched by agency and name; instances by id, else by URL.
          </p>
          <textarea
            ref={textRef}
            id={`${uid}-yaml`}
            value={yaml}
            onChange={(e) => setYaml(e.target.value)}
            aria-describedby={`${uid}-yaml-help`}
            aria-invalid={problems.length > 0 ? true : undefined}
            spellCheck={false}
            autoCapitalize="none"
            autoComplete="off"
            wrap="off"
            rows={18}
            placeholder={
              "# For example:\nservices:\n  - name: doc-review\n    tenant: agency-a\n    healthPath: /health\n    instances:\n      - url: http://10.0.4.12:8080\n        region: primary"
            }
            className="block w-full rounded border-2 border-ink px-3 py-2 font-mono text-sm leading-5 aria-invalid:border-error-dark"
          />
        </div>
        {chooseTenant && (
          <div className="space-y-1">
            <TenantPicker
              tenants={tenants}
              value={tenant}
              onChange={setTenant}
              label="Agency"
              allLabel="Named in the file (tenant: on each service)"
            />
            <p className="text-sm text-muted">
              As a global administrator, pick the agency the file is for, or name one on each service in the file.
            </p>
          </div>
        )}
        <div className="flex items-start gap-3">
          <input
            id={`${uid}-prune`}
            type="checkbox"
            checked={prune}
            onChange={(e) => setPrune(e.target.checked)}
            aria-describedby={`${uid}-prune-help`}
            className="mt-1 h-5 w-5 accent-primary"
          />
          <div>
            <label htmlFor={`${uid}-prune`} className="font-bold">
              Remove services that are not in the file
            </label>
            <p id={`${uid}-prune-help`} className="text-sm text-muted">
              Off: the file only adds and changes services. On: the registry becomes exactly the file (for the agencies
              it covers).
            </p>
          </div>
        </div>
        <button
          type="button"
          className="btn btn-primary"
          disabled={preview.isPending || yaml.trim() === ""}
          onClick={() => {
            apply.reset();
            preview.mutate({ yaml, prune, tenant });
          }}
        >
          {preview.isPending ? "Checking…" : "Preview changes"}
        </button>
      </section>

      {error && (
        <section
          role="alert"
          aria-labelledby={`${uid}-errors`}
          className="space-y-3 rounded-md border-l-8 border-error-dark bg-error-lighter p-4"
        >
          <h2 id={`${uid}-errors`} className="text-xl font-bold">
            {problems.length > 0
              ? `The file has ${problems.length === 1 ? "a problem" : `${problems.length} problems`}; nothing was imported`
              : "The import did not work; nothing was imported"}
          </h2>
          {problems.length > 0 ? (
            <ul className="space-y-1">
              {problems.map((p, i) => (
                <li key={i}>
                  {p.line !== undefined ? (
                    <button
                      type="button"
                      onClick={() => goTo(p)}
                      className="text-left font-semibold text-error-dark underline underline-offset-2"
                      data-testid="yaml-error"
                    >
                      <span className="font-mono">
                        {p.line}:{p.column ?? 1}
                      </span>{" "}
                      — {p.path && /^[a-z]/.test(p.message) ? `${p.path} ${p.message}` : p.message}
                      {p.path && !/^[a-z]/.test(p.message) ? (
                        <span className="font-normal text-ink"> ({p.path})</span>
                      ) : null}
                      <span className="sr-only">. {position(p)}: move the cursor there.</span>
                    </button>
                  ) : (
                    <span className="font-semibold">
                      {p.path ? `${p.path}: ` : ""}
                      {p.message}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          ) : (
            <p>{isApiError(error) ? error.detail : "Please try again."}</p>
          )}
        </section>
      )}

      {previewed && plan && (
        <section aria-labelledby={`${uid}-plan`} className="card space-y-4">
          <h2 id={`${uid}-plan`} className="text-2xl font-bold">
            2. What the import will do
          </h2>
          {stale && (
            <p
              role="status"
              className="rounded-md border-l-8 border-warning bg-warning-lighter px-3 py-2 font-semibold"
            >
              The file or options changed since this preview. Preview again before applying.
            </p>
          )}
          <PlanView plan={plan} />
          <div className="flex flex-wrap items-center gap-3">
            <button
              type="button"
              className="btn btn-primary"
              disabled={stale || apply.isPending || changes === 0}
              onClick={() => apply.mutate({ yaml: previewed.yaml, prune: previewed.prune, tenant: previewed.tenant })}
            >
              {apply.isPending
                ? "Applying…"
                : changes === 0
                  ? "Nothing to apply"
                  : `Apply ${changes} ${changes === 1 ? "change" : "changes"}`}
            </button>
            <p className="text-sm text-muted">Nothing has been stored yet.</p>
          </div>
        </section>
      )}

      {applied && (
        <section
          role="status"
          aria-labelledby={`${uid}-done`}
          className="space-y-3 rounded-md border-l-8 border-success bg-success-lighter p-4"
        >
          <h2 id={`${uid}-done`} className="text-xl font-bold">
            Imported
          </h2>
          <p>
            Created {applied.plan.create.length}, changed {applied.plan.update.length}, removed{" "}
            {applied.plan.remove.length}
            {applied.plan.unchanged.length ? `, left ${applied.plan.unchanged.length} unchanged` : ""}.
          </p>
          <p className="flex flex-wrap gap-3">
            <Link href="/" className="btn btn-primary">
              See them on the board
            </Link>
            <Link href="/admin/services" className="btn btn-secondary">
              Back to the registry
            </Link>
          </p>
        </section>
      )}
    </div>
  );
}

function PlanView({ plan }: { plan: NonNullable<ImportResult["plan"]> }) {
  const block = "space-y-1 rounded-md border border-line p-3";
  return (
    <div className="grid gap-4 md:grid-cols-2">
      <div className={block}>
        <h3 className="font-bold">
          <span aria-hidden="true" className="text-success-dark">
            +{" "}
          </span>
          Create ({plan.create.length})
        </h3>
        {plan.create.length ? (
          <ul className="list-inside list-disc font-mono text-sm" aria-label="Services to create">
            {plan.create.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        ) : (
          <p className="text-sm text-muted">None</p>
        )}
      </div>
      <div className={block}>
        <h3 className="font-bold">
          <span aria-hidden="true" className="text-primary">
            ~{" "}
          </span>
          Change ({plan.update.length})
        </h3>
        {plan.update.length ? (
          <ul className="space-y-1 text-sm" aria-label="Services to change">
            {plan.update.map((u) => (
              <li key={u.name}>
                <span className="font-mono font-semibold">{u.name}</span>
                {u.changes.length > 0 && (
                  <ul className="ml-4 list-inside list-disc text-muted">
                    {u.changes.map((c, i) => (
                      <li key={i}>{c}</li>
                    ))}
                  </ul>
                )}
              </li>
            ))}
          </ul>
        ) : (
          <p className="text-sm text-muted">None</p>
        )}
      </div>
      <div className={`${block} ${plan.remove.length ? "border-error-dark bg-error-lighter" : ""}`}>
        <h3 className="font-bold">
          <span aria-hidden="true" className="text-error-dark">
            −{" "}
          </span>
          Remove ({plan.remove.length})
        </h3>
        {plan.remove.length ? (
          <ul className="list-inside list-disc font-mono text-sm" aria-label="Services to remove">
            {plan.remove.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        ) : (
          <p className="text-sm text-muted">None</p>
        )}
      </div>
      <div className={block}>
        <h3 className="font-bold">Unchanged ({plan.unchanged.length})</h3>
        {plan.unchanged.length ? (
          <p className="font-mono text-sm break-words text-muted">{plan.unchanged.join(", ")}</p>
        ) : (
          <p className="text-sm text-muted">None</p>
        )}
      </div>
      {plan.warnings && plan.warnings.length > 0 && (
        <div className="space-y-1 rounded-md border-l-8 border-warning bg-warning-lighter p-3 md:col-span-2">
          <h3 className="font-bold">Warnings ({plan.warnings.length})</h3>
          <ul className="list-inside list-disc text-sm">
            {plan.warnings.map((w, i) => (
              <li key={i}>
                {w.name && <span className="font-mono font-semibold">{w.name}</span>}
                {w.url && <span className="font-mono"> {w.url}</span>}
                {w.name || w.url ? ": " : ""}
                {w.message}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
