"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId } from "react";
import { demoModes, registryApi, registryQueries, type DemoInstance, type DemoMode } from "../queries/registry";

const modeWords: Record<DemoMode, { label: string; help: string }> = {
  ok: { label: "OK", help: "answers quickly with 200" },
  slow: { label: "Slow", help: "answers 200, but over the latency budget" },
  fail: { label: "Failing", help: "answers 500" },
  flap: { label: "Flapping", help: "fails every other check" },
  down: { label: "Down", help: "refuses connections" },
};

/**
 * The demo fleet's switch for one instance: a segmented radio group (arrow keys move between
 * modes). Shown only when the demo API answers.
 */
export function DemoModeControl({ instance, label }: { instance: DemoInstance; label: string }) {
  const queryClient = useQueryClient();
  const name = useId();
  const mutation = useMutation({
    mutationFn: (mode: DemoMode) => registryApi.setDemoMode(instance.instanceId, mode),
    onSettled: () => queryClient.invalidateQueries({ queryKey: registryQueries.demoInstances().queryKey }),
  });
  const current = mutation.isPending && mutation.variables ? mutation.variables : instance.mode;

  return (
    <fieldset className="flex flex-wrap items-center gap-x-3 gap-y-1">
      <legend className="sr-only">{label}</legend>
      <span aria-hidden="true" className="text-sm font-semibold text-muted">
        Demo fleet — make it:
      </span>
      <span className="inline-flex overflow-hidden rounded border-2 border-primary">
        {demoModes.map((mode) => (
          <label
            key={mode}
            title={modeWords[mode].help}
            className="cursor-pointer border-l border-primary px-2.5 py-1 text-sm font-semibold text-primary first:border-l-0 has-checked:bg-primary has-checked:text-white has-focus-visible:outline-3 has-focus-visible:outline-focus"
          >
            <input
              type="radio"
              name={name}
              value={mode}
              checked={current === mode}
              disabled={mutation.isPending}
              onChange={() => mutation.mutate(mode)}
              className="sr-only"
            />
            {modeWords[mode].label}
          </label>
        ))}
      </span>
      <span role="status" className="text-sm">
        {mutation.isPending
          ? "Switching…"
          : mutation.isError
            ? `Couldn’t switch: ${mutation.error.message}`
            : mutation.isSuccess
              ? `Now ${modeWords[mutation.variables].help}; the board follows within a few checks.`
              : ""}
      </span>
    </fieldset>
  );
}
