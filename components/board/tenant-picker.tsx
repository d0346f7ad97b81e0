"use client";

import { useId } from "react";

/** A global admin's choice of agency ("All agencies" = no `?tenant=`). */
export function TenantPicker({
  tenants,
  value,
  onChange,
  allLabel = "All agencies",
  label = "Agency",
}: {
  tenants: readonly string[];
  value: string | null;
  onChange: (tenant: string | null) => void;
  allLabel?: string;
  label?: string;
}) {
  const id = useId();
  const options = value && !tenants.includes(value) ? [...tenants, value] : tenants;
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
        {options.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
    </div>
  );
}
