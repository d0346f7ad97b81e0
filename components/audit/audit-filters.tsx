"use client";

import { useId, useState, type FormEvent } from "react";
import type { AuditFilters } from "./audit-queries";

type TextField = "actor" | "action" | "target";
type TimeField = "from" | "to";

const textFields: { key: TextField; label: string; help: string; placeholder: string }[] = [
  { key: "actor", label: "Actor", help: "A user name or service:name.", placeholder: "operator-a" },
  { key: "action", label: "Action", help: "End with * for a prefix.", placeholder: "registry.*" },
  { key: "target", label: "Target", help: "A claim, service or instance; * for a prefix.", placeholder: "CLM-12*" },
];

/** "2026-11-27T09:30" in the reader's time zone, for a datetime-local input. */
export function toLocalInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A datetime-local value (the reader's time zone) as an ISO instant; null when empty or invalid. */
export function fromLocalInput(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * The filter form: actor, action, target and a time range. Nothing is fetched per keystroke:
 * Enter or "Apply filters" applies them (and puts them in the address).
 */
export function AuditFilterForm({
  filters,
  onApply,
  onClear,
}: {
  filters: AuditFilters;
  onApply: (f: Pick<AuditFilters, TextField | TimeField>) => void;
  onClear: () => void;
}) {
  const uid = useId();
  const [draft, setDraft] = useState(() => ({
    actor: filters.actor ?? "",
    action: filters.action ?? "",
    target: filters.target ?? "",
    from: toLocalInput(filters.from),
    to: toLocalInput(filters.to),
  }));
  const [error, setError] = useState<string | null>(null);

  function submit(e: FormEvent) {
    e.preventDefault();
    const from = fromLocalInput(draft.from);
    const to = fromLocalInput(draft.to);
    if (from && to && from >= to) {
      setError("“To” must be later than “From”.");
      return;
    }
    setError(null);
    const text = (v: string) => v.trim() || null;
    onApply({ actor: text(draft.actor), action: text(draft.action), target: text(draft.target), from, to });
  }

  function clear() {
    setDraft({ actor: "", action: "", target: "", from: "", to: "" });
    setError(null);
    onClear();
  }

  const input = "block w-full rounded border-2 border-ink bg-white px-3 py-2 aria-invalid:border-error-dark";
  return (
    <form onSubmit={submit} aria-labelledby={`${uid}-title`} className="space-y-3 rounded-md border border-line p-4">
      <h2 id={`${uid}-title`} className="text-lg font-bold">
        Filter events
      </h2>
      <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-5">
        {textFields.map((f) => (
          <div key={f.key} className="flex flex-col gap-1">
            <label htmlFor={`${uid}-${f.key}`} className="font-bold">
              {f.label}
            </label>
            <input
              id={`${uid}-${f.key}`}
              name={f.key}
              value={draft[f.key]}
              onChange={(e) => setDraft((d) => ({ ...d, [f.key]: e.target.value }))}
              placeholder={f.placeholder}
              aria-describedby={`${uid}-${f.key}-help`}
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              maxLength={f.key === "target" ? 500 : 200}
              className={input}
            />
            <span id={`${uid}-${f.key}-help`} className="text-sm text-muted">
              {f.help}
            </span>
          </div>
        ))}
        {(["from", "to"] as const).map((k) => (
          <div key={k} className="flex flex-col gap-1">
            <label htmlFor={`${uid}-${k}`} className="font-bold">
              {k === "from" ? "From" : "To"}
            </label>
            <input
              id={`${uid}-${k}`}
              name={k}
              type="datetime-local"
              value={draft[k]}
              onChange={(e) => setDraft((d) => ({ ...d, [k]: e.target.value }))}
              aria-invalid={error && k === "to" ? true : undefined}
              aria-describedby={error && k === "to" ? `${uid}-error` : `${uid}-${k}-help`}
              className={input}
            />
            <span id={`${uid}-${k}-help`} className="text-sm text-muted">
              {k === "from" ? "Your local time; events at or after." : "Events before this time."}
            </span>
          </div>
        ))}
      </div>
      {error && (
        <p id={`${uid}-error`} role="alert" className="font-semibold text-error-dark">
          {error}
        </p>
      )}
      <div className="flex flex-wrap gap-3">
        <button type="submit" className="btn btn-primary">
          Apply filters
        </button>
        <button type="button" className="btn btn-secondary" onClick={clear}>
          Clear filters
        </button>
      </div>
    </form>
  );
}
