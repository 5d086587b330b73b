/** @module Loading an inventory file: YAML with positions, `${ENV}`, validation whose errors name file, line and field. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, YAMLMap, type Document, type Node } from "yaml";
import { isLifeboatError, LifeboatError } from "../core/errors";
import { hookReferences, interpolate, UnsetVariable } from "./interpolate";
import { buildInventory } from "./build";
import type { Inventory } from "./schema";

/** Options of {@link loadInventory}. */
export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** ssh config file (default ~/.ssh/config). */
  sshConfigFile?: string;
  homedir?: string;
  /** Validates one plugin instance's raw config (throws a CONFIG error whose message starts with `where`). */
  validatePlugin?: (plugin: string, raw: unknown, where: string) => void;
}

/** Turns `hosts.web.plugins.files.paths[1]` into `["hosts","web","plugins","files","paths",1]`. */
function parsePath(where: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of where.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** The node at `where`, or the deepest ancestor that exists (for a missing field: its parent). */
function locate(doc: Document, where: string): Node | undefined {
  let node: unknown = doc.contents;
  let found = node as Node | undefined;
  for (const step of parsePath(where)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      found = (pair.value as Node | null) ?? (pair.key as Node);
      node = pair.value;
    } else if (isSeq(node) && typeof step === "number") {
      node = node.items[step];
      if (!node) break;
      found = node as Node;
    } else break;
  }
  return found;
}

/**
 * Loads and validates an inventory. Every problem is a LifeboatError("CONFIG")
 * whose message starts with `file:line:column: field.path:`.
 */
export function loadInventory(file: string, options: LoadOptions = {}): Inventory {
  if (!fs.existsSync(file)) {
    throw new LifeboatError("CONFIG", `Cannot read the inventory "${file}": no such file`, {
      hint: "create it from inventory/example.yaml, or pass --inventory FILE (or set LIFEBOAT_INVENTORY)",
    });
  }
  const text = fs.readFileSync(file, "utf8");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined) => {
    const pos = lineCounter.linePos(offset ?? 0);
    return `${file}:${pos.line}:${pos.col}`;
  };
  const firstError = doc.errors[0];
  if (firstError) {
    throw new LifeboatError("CONFIG", `${at(firstError.pos[0])}: invalid YAML: ${firstError.message.split("\n")[0]}`, { hint: "fix the YAML syntax at that line" });
  }
  const env = options.env ?? process.env;
  const secrets = new Set<string>();
  const hookEnvs = new Map<YAMLMap, Record<string, string>>();
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== "string" || !node.value.includes("${")) return;
      try {
        const hooks = hooksOfCommand(path);
        if (hooks) {
          // A hook command keeps ${VAR}: its value travels in the hook's environment, never in its argv.
          const refs = hookReferences(node.value, env);
          node.value = refs.command;
          for (const value of Object.values(refs.values)) secrets.add(value);
          hookEnvs.set(hooks, { ...hookEnvs.get(hooks), ...refs.values });
          return;
        }
        const result = interpolate(node.value, env);
        node.value = result.value;
        if (result.fromEnv) secrets.add(result.value);
      } catch (err) {
        if (err instanceof UnsetVariable) {
          throw new LifeboatError("CONFIG", `${at(node.range?.[0])}: ${err.message}`, { hint: `export ${err.variable}=... before running the controller, or write \${${err.variable}:-default}` });
        }
        throw err;
      }
    },
  });
  for (const [hooks, values] of hookEnvs) {
    const given = hooks.get("env");
    hooks.set("env", doc.createNode({ ...(isMap(given) ? (given.toJSON() as Record<string, string>) : {}), ...values }));
  }
  try {
    return buildInventory(doc.toJS() ?? {}, {
      file: path.resolve(file),
      secrets,
      homedir: options.homedir ?? os.homedir(),
      sshConfigFile: options.sshConfigFile,
      validatePlugin: options.validatePlugin,
    });
  } catch (err) {
    if (!isLifeboatError(err) || err.code !== "CONFIG") throw err;
    const where = /^([A-Za-z0-9_.[\]-]+):/.exec(err.message)?.[1];
    if (!where) throw err;
    const node = locate(doc, where);
    throw new LifeboatError("CONFIG", `${at(node?.range?.[0])}: ${err.message}`, err.hint ? { hint: err.hint } : {});
  }
}

/** The `hooks` mapping when the scalar at `path` is one of its `prepare`/`before`/`after` commands. */
function hooksOfCommand(path: readonly unknown[]): YAMLMap | undefined {
  for (let i = path.length - 1; i > 0; i--) {
    const pair = path[i];
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    if (pair.key.value === "prepare" || pair.key.value === "before" || pair.key.value === "after") {
      const outer = path.slice(0, i).reverse().find((p) => isPair(p));
      return isPair(outer) && isScalar(outer.key) && outer.key.value === "hooks" && isMap(outer.value) ? outer.value : undefined;
    }
    return undefined;
  }
  return undefined;
}
