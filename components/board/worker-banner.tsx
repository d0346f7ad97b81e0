"use client";

import { Ago } from "./ago";

/**
 * Shown when the health-check worker has not finished a loop recently: every status on the board
 * is then a memory, not a measurement (CONVENTIONS.md §11).
 */
export function WorkerBanner({ lastLoopAt }: { lastLoopAt: string | null | undefined }) {
  return (
    <div role="alert" className="rounded-md border-l-8 border-warning bg-warning-lighter p-4">
      <p className="font-bold">Health checks are not running — statuses may be out of date</p>
      <p className="text-sm">
        The health-check worker last finished a round <Ago iso={lastLoopAt} never="never (it has not run yet)" />. Start
        or restart the worker (<code className="font-mono">npm start</code> runs it); the board catches up on its own.
      </p>
    </div>
  );
}
