/**
 * Merges two Prometheus text expositions family by family: a family with samples in `primary` is
 * taken from there; otherwise from `secondary`. The data-plane process answers `GET /api/metrics`
 * on the public port with the web process's exposition as `primary` (process metrics, fleet
 * gauges, intake) and its own as `secondary` (the gateway's request and rate-limit families, which
 * only it records), so one scrape of the public port sees both without duplicate series.
 */
interface Family {
  name: string;
  comments: string[];
  samples: string[];
}

export function mergeExpositions(primary: string, secondary: string): string {
  const a = parseFamilies(primary);
  const b = parseFamilies(secondary);
  const out: Family[] = [];
  const seen = new Set<string>();
  for (const f of a) {
    const other = b.find((x) => x.name === f.name);
    out.push(f.samples.length === 0 && other && other.samples.length > 0 ? other : f);
    seen.add(f.name);
  }
  for (const f of b) if (!seen.has(f.name)) out.push(f);
  return `${out.map((f) => [...f.comments, ...f.samples].join("\n")).join("\n")}\n`;
}

function parseFamilies(text: string): Family[] {
  const families: Family[] = [];
  let current: Family | null = null;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^# (?:HELP|TYPE) (\S+)/.exec(line);
    if (m) {
      if (!current || current.name !== m[1]) {
        current = { name: m[1]!, comments: [], samples: [] };
        families.push(current);
      }
      current.comments.push(line);
      continue;
    }
    if (line.startsWith("#")) continue;
    if (!current) {
      const name = /^[^{\s]+/.exec(line)?.[0] ?? line;
      current = { name, comments: [], samples: [] };
      families.push(current);
    }
    current.samples.push(line);
  }
  return families;
}
