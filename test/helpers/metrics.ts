// Prometheus text parsed strictly (the parse-prometheus-text-format parser, then every
// family typed and every value a number), and one sample looked up by labels.
import parsePrometheus from 'parse-prometheus-text-format';

interface Family { name: string; type: string; help: string; metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }> }

/** Parses the exposition strictly: every family typed, every value a number. */
export function parseMetrics(text: string): Map<string, Family> & { text: string } {
  const families = parsePrometheus(text) as Family[];
  samples(text);
  const out = Object.assign(new Map<string, Family>(), { text });
  for (const f of families) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(f.name)) throw new Error(`bad metric name ${f.name}`);
    if (f.type === 'UNTYPED') throw new Error(`untyped family ${f.name}`);
    for (const m of f.metrics) {
      for (const v of [m.value, m.count, m.sum, ...Object.values(m.buckets ?? {})]) {
        if (v !== undefined && !/^([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?Inf|NaN)$/.test(v)) throw new Error(`bad value ${v} in ${f.name}`);
      }
    }
    out.set(f.name, f);
  }
  return out;
}

/** Every sample line of the exposition: name, labels, value (histograms as their _bucket/_sum/_count lines). */
export function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * One sample by family name and labels (a histogram's _count). Looks up the raw text the
 * families came from, since the parser library drops the labels of histogram samples.
 */
export const sample = (m: Map<string, Family> & { text?: string }, name: string, labels: Record<string, string> = {}): number | undefined => {
  const type = m.get(name)?.type;
  const want = type === 'HISTOGRAM' || type === 'SUMMARY' ? `${name}_count` : name;
  const hit = samples(m.text ?? '').find((x) => x.name === want && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return hit?.value;
};
