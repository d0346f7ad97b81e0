import type { ReactNode } from "react";

export interface Column {
  key: string;
  label: ReactNode;
  /** right-aligned (numbers) */
  numeric?: boolean;
}

/**
 * A table with one header row that scrolls sideways on narrow screens; the scroller is focusable
 * so keyboard users can scroll it too. Rows go in as children (the `<tbody>` content).
 */
export function DataTable({
  labelledBy,
  caption,
  columns,
  dense = true,
  children,
}: {
  /** id of the element naming the table; with `caption`, the caption gets this id */
  labelledBy?: string;
  caption?: string;
  columns: (Column | false)[];
  /** compact cells and small text (default) or the roomier portal style */
  dense?: boolean;
  children: ReactNode;
}) {
  const th = dense ? "px-3 py-2 font-bold whitespace-nowrap" : "px-4 py-3 font-bold";
  return (
    <div
      tabIndex={0}
      role="group"
      aria-labelledby={labelledBy}
      className="overflow-x-auto rounded-md border border-line"
    >
      <table
        className={`w-full border-collapse text-left ${dense ? "text-sm" : ""}`}
        aria-labelledby={caption ? undefined : labelledBy}
      >
        {caption && (
          <caption id={labelledBy} className="sr-only">
            {caption}
          </caption>
        )}
        <thead className="bg-surface">
          <tr>
            {columns
              .filter((c): c is Column => c !== false)
              .map((c) => (
                <th key={c.key} scope="col" className={c.numeric ? `${th} text-right` : th}>
                  {c.label}
                </th>
              ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
