/** @module The step before an in-place restore of a plugin instance: its `prepare` hooks start the service, then the agent waits for it to answer. */
import type { Hooks } from "../core/hooks";
import type { Plugin } from "../plugins/contract";
import { runHooks } from "./hooks";
import type { JobContext } from "./job-context";

/**
 * Runs the instance's `prepare` commands (reported like other hooks), then,
 * when the plugin restores into a running service (`Plugin.ready`), waits up to
 * `hooks.readyTimeoutMs` for it to answer (not at all when that is 0). Nothing
 * of the target has changed when it throws, and no `after` hook is due.
 * @throws SOURCE for a failing prepare command; RESTORE (from the plugin) for a service that does not answer in time.
 */
export async function prepareService(jc: JobContext, instance: string, plugin: Plugin, config: unknown, hooks: Hooks): Promise<void> {
  await runHooks(jc.platform, hooks, "prepare", (run) => jc.reportHook(instance, run));
  if (!plugin.ready || hooks.readyTimeoutMs <= 0) return;
  const began = Date.now();
  await plugin.ready(jc.pluginContext(instance), config, hooks.readyTimeoutMs);
  jc.events.log(`[${instance}] the service answered after ${Date.now() - began} ms`);
}
