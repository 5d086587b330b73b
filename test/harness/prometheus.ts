/**
 * @module A Prometheus text exposition read by `parse-prometheus-text-format`
 * (a port of Prometheus' own prom2json), with what a scrape would refuse
 * checked on top: every family typed and described, every value a number.
 */
import parse from "parse-prometheus-text-format";

/** One sample: its labels and value. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The families of an exposition, by name. */
export interface Exposition {
  names(): string[];
  type(name: string): string;
  samples(name: string): Sample[];
  /** The value of the one sample of `name` with exactly `labels`. @throws when there is none */
  value(name: string, labels: Record<string, string>): number;
  /** Whether `name` has a sample with exactly `labels`. */
  has(name: string, labels: Record<string, string>): boolean;
}

interface Family {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

const same = (a: Record<string, string>, b: Record<string, string>) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** Parses `text`. @throws on an untyped or undescribed family, a non-numeric value, or a family given twice */
export function parsePrometheus(text: string): Exposition {
  const families = new Map<string, { type: string; samples: Sample[] }>();
  for (const f of parse(text) as Family[]) {
    if (families.has(f.name)) throw new Error(`family ${f.name} appears twice`);
    if (f.type === "UNTYPED" || !f.help) throw new Error(`family ${f.name} has no TYPE or HELP line`);
    const samples = f.metrics.map((m) => {
      const value = Number(m.value);
      if (m.value === "" || (Number.isNaN(value) && m.value !== "NaN")) throw new Error(`${f.name}: "${m.value}" is not a number`);
      return { labels: m.labels ?? {}, value };
    });
    families.set(f.name, { type: f.type.toLowerCase(), samples });
  }
  const family = (name: string) => {
    const f = families.get(name);
    if (!f) throw new Error(`no metric ${name}`);
    return f;
  };
  return {
    names: () => [...families.keys()],
    type: (name) => family(name).type,
    samples: (name) => family(name).samples,
    has: (name, labels) => families.get(name)?.samples.some((s) => same(s.labels, labels)) ?? false,
    value(name, labels) {
      const found = family(name).samples.filter((s) => same(s.labels, labels));
      if (found.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${found.length} samples`);
      return found[0]!.value;
    },
  };
}
