/** @module Runs a plugin instance's hooks (`core/hooks.ts`) on the host. */
import { LifeboatError } from "../core/errors";
import type { HookPhase, HookRun, Hooks } from "../core/hooks";
import type { Platform } from "../core/platform";
import { runShell } from "../plugins/common/shell";

const OUTPUT_TAIL = 4096;

/** What to do when a hook of each phase fails. */
const HINTS: Record<HookPhase, string> = {
  prepare: "nothing was restored: fix the prepare command in the target host's inventory (it should start the service the data goes into), then restore again",
  before: "fix the hook command in the inventory",
  after: "the service the hook should restart may be down: check it now",
};

/**
 * Runs the commands of one phase with `sh -c`, in order, each bounded by the
 * timeout. Stops at the first failure and throws LifeboatError("SOURCE") with
 * its exit code and output; `report` sees every command that ran.
 */
export async function runHooks(platform: Platform, hooks: Hooks, phase: HookPhase, report: (run: HookRun) => void): Promise<void> {
  for (const command of hooks[phase]) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), hooks.timeoutMs);
    let result: { code: number; output: string };
    try {
      result = await runShell(platform, command, controller.signal, hooks.env);
    } catch (err) {
      result = { code: controller.signal.aborted ? 124 : 127, output: controller.signal.aborted ? `timed out after ${hooks.timeoutMs / 1000}s` : String(err) };
    } finally {
      clearTimeout(timer);
    }
    const output = result.output.slice(-OUTPUT_TAIL);
    report({ phase, command, code: result.code, output });
    if (result.code !== 0) {
      throw new LifeboatError("SOURCE", `Cannot run the ${phase} hook "${command}": it exited with code ${result.code}${output.trim() ? `: ${output.trim().split("\n").slice(-3).join(" | ")}` : ""}`, {
        hint: HINTS[phase],
      });
    }
  }
}
