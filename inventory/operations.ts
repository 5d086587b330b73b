/**
 * @module The fleet's operating settings in the inventory: when hosts are backed
 * up (`schedule`, `timezone`, `jitter`), what counts as fresh (`maxAge`), how
 * often each host is verified (`verifyEvery`) and has every file read again
 * (`rehashEvery`), whether artifacts are stored as chunks (`chunking`), what retention keeps
 * (`retention`), and who hears about it (`alerts`). Read in `defaults` and per
 * host (a host's fields replace the defaults' one by one; `retention` whole).
 */
import { Cron } from "croner";
import { parseDuration } from "../core/durations";
import type { FieldReader } from "../core/validate";
import { FieldReader as Reader } from "../core/validate";

/** When a host is backed up by `controller daemon`. */
export interface Schedule {
  /** A cron expression: 5 fields, or 6 with seconds first. */
  cron: string;
  /** IANA time zone the expression is read in (default: the controller's). */
  timezone?: string;
  /** Each run starts up to this long after its time, at random (default 0). */
  jitterMs: number;
}

/**
 * What retention keeps, restic's `forget` semantics: each rule keeps the newest
 * snapshot of each of the last N periods that have one; a snapshot kept by any
 * rule stays. Absent rules keep nothing by themselves.
 */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** Keep every snapshot younger than this (relative to the newest snapshot), in ms. */
  keepWithinMs?: number;
}

/** The operating settings of one host, defaults applied. */
export interface HostOperations {
  schedule?: Schedule;
  /** A host whose newest complete snapshot is older than this is STALE (default 25 h). */
  maxAgeMs: number;
  /** Every plugin instance of the host gets a deep verification at least this often (default 7 d). */
  verifyEveryMs: number;
  /**
   * A backup reads every file again (`rehash`), whatever its metadata says, when
   * the host has no complete snapshot made so within this long (default 30 d);
   * null (`never`): only when `controller run --rehash` asks.
   */
  rehashEveryMs: number | null;
  /** Store artifacts as chunks deduplicated per host (default); false: every artifact as one object. */
  chunking: boolean;
  /** Absent: `controller prune` keeps everything of the host. */
  retention?: RetentionPolicy;
}

/** What alerts are about. */
export const ALERT_EVENTS = ["failure", "stale", "verify-failed", "cert-expiring", "recovered"] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** Kinds of notifier. */
export const NOTIFIER_TYPES = ["webhook", "ntfy", "healthchecks", "slack", "discord"] as const;

/** One notifier of `alerts:`. */
export interface NotifierConfig {
  type: (typeof NOTIFIER_TYPES)[number];
  /** Where it posts (for `healthchecks`: the base ping URL of a check, or one containing `{host}`). */
  url: string;
  /** The events it wants (default: all). */
  events: AlertEvent[];
  /** Only these hosts (default: all). */
  hosts?: string[];
  /** Extra HTTP headers (e.g. an auth token). */
  headers: Record<string, string>;
  /** An open problem is sent again at most this often, in ms (`repeat:`, default 24 h). */
  repeatMs: number;
  /** Where it was configured, e.g. `alerts[0]`. */
  where: string;
}

export const DEFAULT_MAX_AGE_MS = 25 * 3_600_000;
export const DEFAULT_VERIFY_EVERY_MS = 7 * 86_400_000;
export const DEFAULT_REHASH_EVERY_MS = 30 * 86_400_000;
/** How often an open problem is sent again to a notifier when `repeat:` is not set. */
export const DEFAULT_ALERT_REPEAT_MS = 24 * 3_600_000;

/** The fields this module reads from `defaults` or a host. */
export const OPERATION_FIELDS = ["schedule", "timezone", "jitter", "maxAge", "verifyEvery", "rehashEvery", "chunking", "retention"] as const;

/** Operating settings as written in one mapping (defaults or a host), unresolved. */
export type OperationFields = Partial<{ cron: string; timezone: string; jitterMs: number; maxAgeMs: number; verifyEveryMs: number; rehashEveryMs: number | null; chunking: boolean; retention: RetentionPolicy }>;

/** Reads the operating fields of `defaults` or of a host from `r`. */
export function readOperationFields(r: FieldReader): OperationFields {
  const out: OperationFields = {};
  const cron = r.string("schedule", true);
  if (cron !== undefined) {
    try {
      new Cron(cron, { paused: true });
    } catch (err) {
      throw r.fail("schedule", `not a cron expression: ${(err as Error).message}`, 'use 5 fields ("30 2 * * *": 02:30 every day) or 6 with seconds first');
    }
    out.cron = cron;
  }
  const timezone = r.string("timezone", true);
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: timezone });
    } catch {
      throw r.fail("timezone", `unknown time zone "${timezone}"`, "use an IANA name such as Europe/Berlin or UTC");
    }
    out.timezone = timezone;
  }
  const jitter = r.value("jitter") === undefined ? undefined : r.duration("jitter");
  if (jitter !== undefined) out.jitterMs = jitter;
  const maxAge = r.value("maxAge") === undefined ? undefined : r.duration("maxAge");
  if (maxAge !== undefined) out.maxAgeMs = maxAge;
  const verifyEvery = r.value("verifyEvery") === undefined ? undefined : r.duration("verifyEvery");
  if (verifyEvery !== undefined) out.verifyEveryMs = verifyEvery;
  const rehashEvery = r.value("rehashEvery");
  if (rehashEvery !== undefined) {
    if (rehashEvery === "never") out.rehashEveryMs = null;
    else {
      const ms = parseDuration(rehashEvery);
      if (ms === null || ms <= 0) throw r.fail("rehashEvery", `expected a duration such as 30d or 2w, or never, got ${JSON.stringify(rehashEvery)}`, "never: files are read again only with controller run --rehash");
      out.rehashEveryMs = ms;
    }
  }
  if (r.value("chunking") !== undefined) out.chunking = r.boolean("chunking", true);
  if (r.value("retention") !== undefined) out.retention = readRetention(Reader.of(r.value("retention"), `${r.where}.retention`));
  return out;
}

const KEEP_COUNTS = ["keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly"] as const;

function readRetention(r: FieldReader): RetentionPolicy {
  const policy: RetentionPolicy = {};
  for (const name of KEEP_COUNTS) {
    const n = r.number(name, true);
    if (n === undefined) continue;
    if (!Number.isInteger(n) || n < 0) throw r.fail(name, `expected a whole number of snapshots, got ${n}`);
    policy[name] = n;
  }
  const within = r.value("keepWithin");
  if (within !== undefined) {
    const ms = parseDuration(within);
    if (ms === null || ms <= 0) throw r.fail("keepWithin", `expected a duration such as 7d or 36h, got ${JSON.stringify(within)}`);
    policy.keepWithinMs = ms;
  }
  r.rejectUnknown();
  if (Object.keys(policy).length === 0 || Object.values(policy).every((v) => v === 0)) {
    throw r.fail("keepLast", "a retention policy that keeps nothing", "set at least one of keepLast, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin (or remove retention: to keep everything)");
  }
  return policy;
}

/** A host's settings: its own fields over the defaults'. */
export function resolveOperations(defaults: OperationFields, own: OperationFields): HostOperations {
  const cron = own.cron ?? defaults.cron;
  const timezone = own.timezone ?? defaults.timezone;
  const retention = own.retention ?? defaults.retention;
  return {
    ...(cron ? { schedule: { cron, ...(timezone ? { timezone } : {}), jitterMs: own.jitterMs ?? defaults.jitterMs ?? 0 } } : {}),
    maxAgeMs: own.maxAgeMs ?? defaults.maxAgeMs ?? DEFAULT_MAX_AGE_MS,
    verifyEveryMs: own.verifyEveryMs ?? defaults.verifyEveryMs ?? DEFAULT_VERIFY_EVERY_MS,
    rehashEveryMs: own.rehashEveryMs !== undefined ? own.rehashEveryMs : defaults.rehashEveryMs !== undefined ? defaults.rehashEveryMs : DEFAULT_REHASH_EVERY_MS,
    chunking: own.chunking ?? defaults.chunking ?? true,
    ...(retention ? { retention } : {}),
  };
}

/** Reads `alerts:`, a list of notifiers. `hostNames` are checked against `hosts:` filters. */
export function readAlerts(raw: unknown, hostNames: Set<string>): NotifierConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new Reader({}, "inventory").fail("alerts", "expected a list of notifiers");
  return raw.map((entry, i) => {
    const where = `alerts[${i}]`;
    const r = Reader.of(entry, where);
    const type = r.oneOf("type", [...NOTIFIER_TYPES]) as NotifierConfig["type"];
    const url = r.string("url");
    if (!/^https?:\/\//.test(url)) throw r.fail("url", "expected an http(s) URL");
    const events = r.value("events") === undefined ? [...ALERT_EVENTS] : r.stringList("events", { nonEmpty: true });
    events.forEach((e, j) => {
      if (!(ALERT_EVENTS as readonly string[]).includes(e)) throw r.fail(`events[${j}]`, `unknown event "${e}"`, `events are ${ALERT_EVENTS.join(", ")}`);
    });
    const hosts = r.value("hosts") === undefined ? undefined : r.stringList("hosts", { nonEmpty: true });
    hosts?.forEach((h, j) => {
      if (!hostNames.has(h)) throw r.fail(`hosts[${j}]`, `no host "${h}" under hosts:`);
    });
    const headers = r.value("headers") === undefined ? {} : r.stringMap("headers");
    const repeatMs = r.duration("repeat", DEFAULT_ALERT_REPEAT_MS);
    r.rejectUnknown();
    return { type, url, events: events as AlertEvent[], ...(hosts ? { hosts } : {}), headers, repeatMs, where };
  });
}
