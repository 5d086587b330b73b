/**
 * @module Hooks on every plugin instance, as configured: `before` and `after` commands around its
 * backup or restore, and `prepare` commands that start its service before an in-place restore
 * (the agent runs them, `agent/hooks.ts`).
 */
import { describe, FieldReader } from "./validate";

/** A plugin instance's hooks. */
export interface Hooks {
  /**
   * Run only for an in-place restore, first (before `before`): start what must run
   * before data goes in, e.g. `docker compose up -d db` on a fresh host.
   */
  prepare: string[];
  /** After `prepare`, how long an in-place restore waits for the plugin's service to answer (`Plugin.ready`); 0: it does not wait. */
  readyTimeoutMs: number;
  before: string[];
  after: string[];
  /** Per command, in milliseconds. */
  timeoutMs: number;
  /**
   * The environment of the hook commands: the `${NAME}` values a command refers
   * to (the inventory loader fills it from the controller's environment). Values
   * are secrets: they travel in the signed spec and reach the commands' environment,
   * never their argv; `${NAME}` stays in the command text, expanded by the shell.
   */
  env: Record<string, string>;
}

/** When a hook command runs: `prepare` (in-place restores only), then `before`, then `after`. */
export type HookPhase = "prepare" | "before" | "after";

/** How long an in-place restore waits for a service to answer, unless `hooks.readyTimeout` says otherwise. */
export const READY_TIMEOUT_MS = 2 * 60_000;

/** One hook command's result, as reported in the run's log. */
export interface HookRun {
  phase: HookPhase;
  command: string;
  code: number;
  /** The last 4 KiB of its combined output. */
  output: string;
}

/**
 * Splits the `hooks` field off a plugin instance's raw config, so the plugin
 * sees only its own fields. @throws LifeboatError("CONFIG") naming the field.
 */
export function splitHooks(raw: unknown, where: string): { hooks: Hooks; config: unknown } {
  const none: Hooks = { prepare: [], readyTimeoutMs: READY_TIMEOUT_MS, before: [], after: [], timeoutMs: 10 * 60_000, env: {} };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw) || !("hooks" in raw)) return { hooks: none, config: raw };
  const { hooks: rawHooks, ...config } = raw as Record<string, unknown>;
  const r = FieldReader.of(rawHooks, `${where}.hooks`);
  const list = (name: string): string[] => {
    const v = r.value(name);
    if (v === undefined) return [];
    if (typeof v === "string" && v.trim() !== "") return [v];
    if (Array.isArray(v) && v.every((c) => typeof c === "string" && c.trim() !== "")) return v as string[];
    throw r.fail(name, `expected a command or a list of commands, got ${describe(v)}`);
  };
  // 0 (or "0"): an in-place restore does not wait for the service, e.g. to restore data that keeps it from starting.
  const noWait = r.value("readyTimeout") === 0 || r.value("readyTimeout") === "0";
  const hooks: Hooks = {
    prepare: list("prepare"),
    readyTimeoutMs: noWait ? 0 : r.duration("readyTimeout", none.readyTimeoutMs),
    before: list("before"),
    after: list("after"),
    timeoutMs: r.duration("timeout", none.timeoutMs),
    env: r.stringMap("env"),
  };
  r.rejectUnknown();
  return { hooks, config };
}

