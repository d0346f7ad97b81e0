"use client";

import { useId } from "react";

/**
 * A labelled drop-down filter: "All …" (no filter, `null`) and one option per value. The current
 * value is kept in the list even when the options no longer name it.
 */
export function FilterSelect({
  label,
  allLabel,
  options,
  value,
  onChange,
  optionLabel = (v) => v,
}: {
  label: string;
  allLabel: string;
  options: readonly string[];
  value: string | null;
  onChange: (value: string | null) => void;
  /** the words of an option, when they are not the value itself */
  optionLabel?: (value: string) => string;
}) {
  const id = useId();
  const shown = value && !options.includes(value) ? [...options, value] : options;
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-bold">
        {label}
      </label>
      <select
        id={id}
        value={value ?? ""}
        onChange={(e) => onChange(e.target.value || null)}
        className="rounded border-2 border-ink bg-white px-3 py-2"
      >
        <option value="">{allLabel}</option>
        {shown.map((v) => (
          <option key={v} value={v}>
            {optionLabel(v)}
          </option>
        ))}
      </select>
    </div>
  );
}
