// The dependency rule of docs/architecture.md, kept by the suite: every product source file's
// imports are read and checked against the folders it may use, so no cycle between top-level
// folders can creep in, and the agent bundle stays one file with nothing native in it.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "..");

/** What each top-level product folder may import (besides itself and npm packages). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  platform: ["core"],
  plugins: ["core"],
  agent: ["core", "platform", "plugins"],
  inventory: ["core"],
  controller: ["core", "platform", "inventory", "plugins"],
};
/** The one file of plugins/ that the controller may import: for config validation and operator warnings. */
const CONTROLLER_PLUGIN_ENTRY = "plugins/registry.ts";
/** Folders whose code may import `node:` modules directly; the rest reach the OS through core's Platform. */
const NODE_ALLOWED = new Set(["platform", "controller", "inventory"]);

interface Import {
  from: string;
  specifier: string;
  /** Repository-relative file it resolves to, for relative specifiers. */
  target?: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

function resolve(from: string, specifier: string): string | undefined {
  const base = path.join(path.dirname(from), specifier);
  return [base, `${base}.ts`, path.join(base, "index.ts")].find((c) => fs.existsSync(path.join(root, c)) && fs.statSync(path.join(root, c)).isFile());
}

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(root, file), "utf8");
  const found: Import[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\b[^"'`;]*?from\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const specifier = (m[1] ?? m[2] ?? m[3])!;
    found.push({ from: file, specifier, ...(specifier.startsWith(".") ? { target: resolve(file, specifier) } : {}) });
  }
  return found;
}

const folderOf = (file: string) => file.split(path.sep)[0]!;
const files = Object.keys(ALLOWED).flatMap(sourceFiles);
const imports = files.flatMap(importsOf);

describe("the dependency rule", () => {
  it("reads a real tree: every folder has sources and the parser finds their imports", () => {
    for (const folder of Object.keys(ALLOWED)) expect(files.some((f) => folderOf(f) === folder), folder).toBe(true);
    expect(imports.filter((i) => i.target).length).toBeGreaterThan(200);
    expect(importsOf("agent/main.ts").some((i) => i.target === "core/errors.ts")).toBe(true);
  });

  it("every relative import resolves to a file", () => {
    expect(imports.filter((i) => i.specifier.startsWith(".") && !i.target).map((i) => `${i.from} → ${i.specifier}`)).toEqual([]);
  });

  it("each folder imports only the folders it may", () => {
    const bad = imports
      .filter((i) => i.target && folderOf(i.target) !== folderOf(i.from) && !ALLOWED[folderOf(i.from)]!.includes(folderOf(i.target)))
      .map((i) => `${i.from} → ${i.target}`);
    expect(bad).toEqual([]);
  });

  it("core/ imports nothing of ours outside core/", () => {
    expect(imports.filter((i) => folderOf(i.from) === "core" && i.target && folderOf(i.target) !== "core").map((i) => `${i.from} → ${i.target}`)).toEqual([]);
  });

  it("the controller reaches plugins only through the registry", () => {
    const bad = imports.filter((i) => folderOf(i.from) === "controller" && i.target && folderOf(i.target) === "plugins" && i.target !== CONTROLLER_PLUGIN_ENTRY);
    expect(bad.map((i) => `${i.from} → ${i.target}`)).toEqual([]);
  });

  it("no product file imports the test harness", () => {
    expect(imports.filter((i) => i.target && folderOf(i.target) === "test").map((i) => `${i.from} → ${i.target}`)).toEqual([]);
  });

  it("node: modules are reached only from platform/, controller/ and inventory/", () => {
    const bad = imports.filter((i) => (i.specifier.startsWith("node:") || /^(fs|path|os|crypto|child_process|stream|util)(\/|$)/.test(i.specifier)) && !NODE_ALLOWED.has(folderOf(i.from)));
    expect(bad.map((i) => `${i.from} → ${i.specifier}`)).toEqual([]);
  });

  it("the folder graph has no cycle", () => {
    const edges = new Map<string, Set<string>>();
    for (const i of imports) {
      if (!i.target || folderOf(i.target) === folderOf(i.from)) continue;
      edges.set(folderOf(i.from), (edges.get(folderOf(i.from)) ?? new Set()).add(folderOf(i.target)));
    }
    const cycles: string[] = [];
    const visit = (folder: string, trail: string[]) => {
      if (trail.includes(folder)) return void cycles.push([...trail.slice(trail.indexOf(folder)), folder].join(" → "));
      for (const next of edges.get(folder) ?? []) visit(next, [...trail, folder]);
    };
    for (const folder of edges.keys()) visit(folder, []);
    expect(cycles).toEqual([]);
  });
});

describe("the agent bundle", () => {
  const bundle = path.join(root, "dist", "agent.mjs");

  it("is one self-contained file: it imports only node: built-ins and loads nothing native", () => {
    expect(fs.existsSync(bundle), "dist/agent.mjs is built by scripts/setup.sh (npm run build)").toBe(true);
    const text = fs.readFileSync(bundle, "utf8");
    const specifiers = [...text.matchAll(/\bfrom\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)|(?<![[\w.])require\(\s*"([^"]+)"\s*\)/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s.startsWith("node:"))).toEqual([]);
    expect(text).not.toMatch(/\.node["']/);
    expect(fs.readdirSync(path.join(root, "dist")).filter((n) => n.startsWith("agent"))).toEqual(["agent.mjs"]);
  });
});
