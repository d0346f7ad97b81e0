"use client";

import { FilterSelect } from "../filter-select";

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
  return <FilterSelect label={label} allLabel={allLabel} options={tenants} value={value} onChange={onChange} />;
}
