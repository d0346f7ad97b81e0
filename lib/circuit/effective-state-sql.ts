/**
 * The state routing obeys, in SQL, from a `circuits` row aliased `c` (all columns null for an
 * instance without a row). Mirrors Breaker.effectiveState: nobody persists open → half_open (a
 * replica moves there lazily on the next call), so an open row whose period is over reads
 * half_open; a forced state wins. The one place the board, the Circuits page, the status rules
 * and the metrics read a breaker's state from.
 */
export function effectiveStateSql(c: string): string {
  return `CASE WHEN ${c}.forced IN ('open', 'closed') THEN ${c}.forced
    WHEN ${c}.state = 'open' AND ${c}.open_until IS NOT NULL AND ${c}.open_until <= now() THEN 'half_open'
    ELSE coalesce(${c}.state::text, 'closed') END`;
}
