/** @module Every plugin Lifeboat knows, one line each. */
import { LifeboatError } from "../core/errors";
import { chromaPlugin } from "./chroma/chroma";
import { filesPlugin } from "./files/files";
import { letsencryptPlugin } from "./letsencrypt/letsencrypt";
import { nginxPlugin } from "./nginx/nginx";
import { ollamaPlugin } from "./ollama/ollama";
import { postgresPlugin } from "./postgres/postgres";
import { redisPlugin } from "./redis/redis";
import { sqlitePlugin } from "./sqlite/sqlite";
import { splitHooks } from "../core/hooks";
import type { ArtifactRecord } from "../core/records";
import { RESTORE_STAGES, type Plugin, type RestoreStage, type RestoreTool } from "./contract";

export { RESTORE_STAGES, type RestoreStage, type RestoreTool };

const registry = new Map<string, Plugin>();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function register(plugin: Plugin<any>): void {
  if (registry.has(plugin.name)) throw new LifeboatError("INTERNAL", `plugin "${plugin.name}" is registered twice`);
  registry.set(plugin.name, plugin as unknown as Plugin);
}

register(filesPlugin);
register(sqlitePlugin);
register(redisPlugin);
register(nginxPlugin);
register(letsencryptPlugin);
register(postgresPlugin);
register(ollamaPlugin);
register(chromaPlugin);

/** The plugin called `name`. @throws LifeboatError("CONFIG") listing the known plugins. */
export function getPlugin(name: string): Plugin {
  const plugin = registry.get(name);
  if (!plugin) {
    throw new LifeboatError("CONFIG", `Cannot use plugin "${name}": no such plugin`, { hint: `known plugins: ${pluginNames().join(", ")}` });
  }
  return plugin;
}

/** Names of all registered plugins. */
export function pluginNames(): string[] {
  return [...registry.keys()].sort();
}

/** Validates a plugin instance's raw inventory config: its hooks, then the plugin's own fields. */
export function validatePluginConfig(plugin: string, raw: unknown, where: string): void {
  getPlugin(plugin).parseConfig(splitHooks(raw, where).config, where);
}

/** What an operator should be warned of about stored artifacts (e.g. certificates about to expire), each prefixed with `[instance]`. */
export function operatorWarnings(records: ArtifactRecord[], now = new Date()): string[] {
  return records.flatMap((record) => (registry.get(record.plugin)?.operatorWarnings?.(record, now) ?? []).map((w) => `[${record.instance}] ${w}`));
}

/** Where instances of `plugin` go in a whole-host restore (service data for a plugin that does not say). */
export function restoreStageOf(plugin: string): RestoreStage {
  return registry.get(plugin)?.restoreStage ?? "data";
}

/** The programs a restore of this plugin instance runs on its host (`raw`: the instance's inventory config, hooks included). */
export function restoreToolsOf(plugin: string, raw: unknown, where: string): RestoreTool[] {
  const p = getPlugin(plugin);
  return p.restoreTools?.(p.parseConfig(splitHooks(raw, where).config, where)) ?? [];
}
