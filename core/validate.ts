/** @module Small validators for untrusted configuration and specs; every error names the field. */
import { parseDuration } from "./durations";
import { LifeboatError, type ErrorCode } from "./errors";

/** A reader of one object's fields that reports errors as `<where>.<field>: <problem>`. */
export class FieldReader {
  private readonly seen = new Set<string>();

  constructor(
    private readonly raw: Record<string, unknown>,
    /** Location prefix, e.g. `hosts.web.plugins.files`. */
    readonly where: string,
    private readonly code: ErrorCode = "CONFIG",
  ) {}

  /** Starts reading `raw`, which must be a mapping. */
  static of(raw: unknown, where: string, code: ErrorCode = "CONFIG"): FieldReader {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new LifeboatError(code, `${where}: expected a mapping, got ${describe(raw)}`);
    }
    return new FieldReader(raw as Record<string, unknown>, where, code);
  }

  /** An error for field `name` (or for the object itself when name is empty). */
  fail(name: string, problem: string, hint?: string): LifeboatError {
    const at = name ? `${this.where}.${name}` : this.where;
    return new LifeboatError(this.code, `${at}: ${problem}`, hint === undefined ? {} : { hint });
  }

  private take(name: string): unknown {
    this.seen.add(name);
    return this.raw[name];
  }

  string(name: string): string;
  string(name: string, optional: true): string | undefined;
  string(name: string, optional = false): string | undefined {
    const v = this.take(name);
    if (v === undefined && optional) return undefined;
    if (typeof v !== "string" || v === "") throw this.fail(name, `expected a non-empty string, got ${describe(v)}`);
    return v;
  }

  number(name: string): number;
  number(name: string, optional: true): number | undefined;
  number(name: string, optional = false): number | undefined {
    const v = this.take(name);
    if (v === undefined && optional) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) throw this.fail(name, `expected a number, got ${describe(v)}`);
    return v;
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.take(name);
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") throw this.fail(name, `expected true or false, got ${describe(v)}`);
    return v;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
    const v = this.take(name);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      throw this.fail(name, `expected one of ${allowed.join(", ")}, got ${describe(v)}`);
    }
    return v as T;
  }

  stringList(name: string, options: { optional?: boolean; nonEmpty?: boolean } = {}): string[] {
    const v = this.take(name);
    if (v === undefined && options.optional) return [];
    if (!Array.isArray(v)) throw this.fail(name, `expected a list of strings, got ${describe(v)}`);
    if (options.nonEmpty && v.length === 0) throw this.fail(name, "must not be empty");
    v.forEach((item, i) => {
      if (typeof item !== "string" || item === "") throw this.fail(`${name}[${i}]`, `expected a non-empty string, got ${describe(item)}`);
    });
    return v as string[];
  }

  stringMap(name: string): Record<string, string> {
    const v = this.take(name);
    if (v === undefined) return {};
    const inner = FieldReader.of(v, `${this.where}.${name}`, this.code);
    const out: Record<string, string> = {};
    for (const key of inner.keys()) out[key] = inner.string(key);
    return out;
  }

  /** A field holding an absolute path (`/...`): `fallback` when absent, or undefined with `optional` true; required otherwise. */
  absolutePath(name: string, fallback?: string): string;
  absolutePath(name: string, optional: true): string | undefined;
  absolutePath(name: string, fallbackOrOptional?: string | true): string | undefined {
    const v = this.string(name, true) ?? (fallbackOrOptional === true ? undefined : fallbackOrOptional);
    if (v === undefined) return fallbackOrOptional === true ? undefined : this.string(name);
    if (!v.startsWith("/")) throw this.fail(name, `must be an absolute path, got ${describe(v)}`);
    return v;
  }

  /** A positive duration (`30s`, `5m`, `1h`, or seconds as a number) in milliseconds; `fallbackMs` (or undefined) when absent. */
  duration(name: string): number | undefined;
  duration(name: string, fallbackMs: number): number;
  duration(name: string, fallbackMs?: number): number | undefined {
    const v = this.take(name);
    if (v === undefined) return fallbackMs;
    const ms = parseDuration(v);
    if (ms === null || ms <= 0) throw this.fail(name, `expected a duration such as 30s or 5m, got ${describe(v)}`);
    return ms;
  }

  /** A list of absolute paths. */
  absolutePathList(name: string, options: { optional?: boolean; nonEmpty?: boolean } = {}): string[] {
    const list = this.stringList(name, options);
    list.forEach((v, i) => {
      if (!v.startsWith("/")) throw this.fail(`${name}[${i}]`, `must be an absolute path, got ${describe(v)}`);
    });
    return list;
  }

  /** The raw value of a field, marked as known. */
  value(name: string): unknown {
    return this.take(name);
  }

  keys(): string[] {
    return Object.keys(this.raw);
  }

  /** Throws for any field that was not read: catches typos such as `pahts`. */
  rejectUnknown(): void {
    for (const key of Object.keys(this.raw)) {
      if (!this.seen.has(key)) throw this.fail(key, "unknown field", `known fields here: ${[...this.seen].sort().join(", ")}`);
    }
  }
}

/** A short description of a value for error messages (never the value of a secret field: callers avoid that). */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return `${typeof value} ${String(value)}`;
}
