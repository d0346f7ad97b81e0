"use client";

import { useEffect, useState } from "react";

/** Copies a value to the clipboard and says so (to sighted users and screen readers). */
export function CopyButton({ value, label }: { value: string; label: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");

  useEffect(() => {
    if (state === "idle") return;
    const t = setTimeout(() => setState("idle"), 4000);
    return () => clearTimeout(t);
  }, [state]);

  async function copy() {
    try {
      if (navigator.clipboard?.writeText) {
        await navigator.clipboard.writeText(value);
      } else {
        // Outside HTTPS there is no async clipboard; fall back to a hidden text area.
        const ta = document.createElement("textarea");
        ta.value = value;
        ta.setAttribute("readonly", "");
        ta.style.position = "fixed";
        ta.style.opacity = "0";
        document.body.appendChild(ta);
        ta.select();
        const ok = document.execCommand("copy");
        ta.remove();
        if (!ok) throw new Error("copy failed");
      }
      setState("copied");
    } catch {
      setState("failed");
    }
  }

  return (
    <span className="inline-flex items-center gap-3">
      <button type="button" className="btn btn-secondary px-3 py-1.5 text-sm" onClick={() => void copy()}>
        {label}
      </button>
      <span role="status" className="text-sm font-semibold">
        {state === "copied" ? "Copied" : state === "failed" ? "Couldn’t copy — select the text instead" : ""}
      </span>
    </span>
  );
}
