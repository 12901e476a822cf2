/** Reading a /metrics page in tests. */
export type Samples = Map<string, number>;

/** Prometheus text → `name{a="b"}` → value (label order as exposed). */
export function parseMetrics(text: string): Samples {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** The label sets of one info metric's series (`model_monitor_served_info{version="…",…}`). */
export function infoLabels(s: Samples, name: string): Record<string, string>[] {
  return [...s.keys()]
    .filter((k) => k.startsWith(`${name}{`))
    .map((k) => Object.fromEntries([...k.slice(name.length + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!])));
}
