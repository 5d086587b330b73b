/** @module Hooks on every plugin instance: `before` and `after` commands around its backup or restore. */
import { LifeboatError } from "../agent/errors";
import type { Platform } from "../agent/platform";
import { describe, FieldReader } from "../agent/validate";
import { parseDuration } from "../agent/durations";
import { runShell } from "./shell";

/** A plugin instance's hooks. */
export interface Hooks {
  before: string[];
  after: string[];
  /** Per command, in milliseconds. */
  timeoutMs: number;
}

/** One hook command's result, as reported in the run's log. */
export interface HookRun {
  phase: "before" | "after";
  command: string;
  code: number;
  /** The last 4 KiB of its combined output. */
  output: string;
}

const OUTPUT_TAIL = 4096;

/**
 * Splits the `hooks` field off a plugin instance's raw config, so the plugin
 * sees only its own fields. @throws LifeboatError("CONFIG") naming the field.
 */
export function splitHooks(raw: unknown, where: string): { hooks: Hooks; config: unknown } {
  const none: Hooks = { before: [], after: [], timeoutMs: 10 * 60_000 };
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
  const hooks: Hooks = { before: list("before"), after: list("after"), timeoutMs: none.timeoutMs };
  const timeout = r.value("timeout");
  if (timeout !== undefined) {
    const ms = parseDuration(timeout);
    if (ms === null || ms <= 0) throw r.fail("timeout", `expected a duration such as 30s or 5m, got ${describe(timeout)}`);
    hooks.timeoutMs = ms;
  }
  r.rejectUnknown();
  return { hooks, config };
}

/**
 * Runs the commands of one phase with `sh -c`, in order, each bounded by the
 * timeout. Stops at the first failure and throws LifeboatError("SOURCE") with
 * its exit code and output; `report` sees every command that ran.
 */
export async function runHooks(platform: Platform, hooks: Hooks, phase: "before" | "after", report: (run: HookRun) => void): Promise<void> {
  for (const command of hooks[phase]) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), hooks.timeoutMs);
    let result: { code: number; output: string };
    try {
      result = await runShell(platform, command, controller.signal);
    } catch (err) {
      result = { code: controller.signal.aborted ? 124 : 127, output: controller.signal.aborted ? `timed out after ${hooks.timeoutMs / 1000}s` : String(err) };
    } finally {
      clearTimeout(timer);
    }
    const output = result.output.slice(-OUTPUT_TAIL);
    report({ phase, command, code: result.code, output });
    if (result.code !== 0) {
      throw new LifeboatError("SOURCE", `Cannot run the ${phase} hook "${command}": it exited with code ${result.code}${output.trim() ? `: ${output.trim().split("\n").slice(-3).join(" | ")}` : ""}`, {
        hint: phase === "after" ? "the service the hook should restart may be down: check it now" : "fix the hook command in the inventory",
      });
    }
  }
}
