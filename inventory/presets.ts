/** @module Presets: one inventory entry that expands into the plugin instances a common stack needs. */
import type { FieldReader } from "../core/validate";

/** A plugin instance a preset produces. */
export interface PresetInstance {
  instance: string;
  plugin: string;
  config: Record<string, unknown>;
}

type Preset = (r: FieldReader, name: string) => PresetInstance[];

function absolute(r: FieldReader, field: string): string {
  return r.absolutePath(field).replace(/(.)\/$/, "$1");
}

/**
 * Open WebUI's data directory: `webui.db` (sqlite), `vector_db/` (chroma), and
 * everything else (uploads/...) as files, without `cache/` and `audit.log`.
 */
const openwebui: Preset = (r, name) => {
  const data = absolute(r, "data");
  const hooks = r.value("hooks") as Record<string, unknown> | undefined;
  const withHooks = (config: Record<string, unknown>) => (hooks ? { ...config, hooks } : config);
  // The tree first: a restore of the whole preset swaps the directory in before the database and vectors inside it.
  return [
    { instance: `${name}-files`, plugin: "files", config: withHooks({ paths: [data], exclude: ["cache/", "audit.log", "/webui.db", "/webui.db-*", "/vector_db/"] }) },
    { instance: `${name}-db`, plugin: "sqlite", config: withHooks({ databases: [`${data}/webui.db`] }) },
    { instance: `${name}-vectors`, plugin: "chroma", config: withHooks({ path: `${data}/vector_db` }) },
  ];
};

/** Every preset, one line each. */
export const PRESETS: Record<string, Preset> = { openwebui };
