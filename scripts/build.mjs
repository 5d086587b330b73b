// Builds Lifeboat's two programs with esbuild:
//   dist/agent.mjs       the agent: ONE self-contained ES module, no node_modules, no native addons
//   dist/controller.mjs  the controller CLI (uses the installed node_modules: better-sqlite3, ssh2)
import { build } from "esbuild";
import { readFileSync, chmodSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const shared = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  define: { __LIFEBOAT_VERSION__: JSON.stringify(pkg.version) },
  legalComments: "none",
};

// CommonJS dependencies bundled into an ES module still call require() for
// Node built-ins; give them one (works on Node and on Deno's node: layer).
const requireShim = 'import { createRequire as __lifeboatCreateRequire } from "node:module"; const require = __lifeboatCreateRequire(import.meta.url);';

await build({
  ...shared,
  entryPoints: ["agent/main.ts"],
  outfile: "dist/agent.mjs",
  banner: { js: `#!/usr/bin/env node\n${requireShim}` },
  minifySyntax: true,
  minifyWhitespace: true,
});

await build({
  ...shared,
  entryPoints: ["controller/cli.ts"],
  outfile: "dist/controller.mjs",
  packages: "external",
  banner: { js: "#!/usr/bin/env node" },
});

for (const file of ["dist/agent.mjs", "dist/controller.mjs"]) chmodSync(file, 0o755);
