#!/usr/bin/env node
// Thin launcher: the real program is the one-file bundle that `npm run build` writes to dist/.
import { existsSync } from "node:fs";
const bundle = new URL("../dist/agent.mjs", import.meta.url);
if (!existsSync(bundle)) {
  console.error("lifeboat: dist/agent.mjs is missing; build it first: npm run build (or bash scripts/setup.sh)");
  process.exit(2);
}
await import(bundle.href);
