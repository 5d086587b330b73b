/**
 * @module The documented way to read a chunked artifact without Lifeboat:
 * the shell block marked `recipe: reassemble` in docs/storage-format.md, run
 * exactly as written (bash, the stock `age`, `jq`, `gzip`, `sha256sum`).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const DOC = path.join(import.meta.dirname, "..", "..", "docs", "storage-format.md");

/** The recipe's shell text, as the document shows it. */
export function reassembleRecipe(): string {
  const doc = fs.readFileSync(DOC, "utf8");
  const marker = doc.indexOf("<!-- recipe: reassemble");
  const m = marker < 0 ? null : /```sh\n([\s\S]*?)```/.exec(doc.slice(marker));
  if (!m) throw new Error(`${DOC} has no "recipe: reassemble" shell block`);
  return m[1]!;
}

/**
 * Reassembles a chunked artifact with the recipe: `index` is its stored
 * (encrypted) object, `fetch` gives the stored bytes of any chunk key (the
 * chunks the index names are laid out under a STORE directory first).
 */
export async function reassembleWithRecipe(identityFile: string, index: Buffer, fetch: (key: string) => Promise<Buffer>): Promise<Buffer> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-recipe-"));
  try {
    fs.copyFileSync(identityFile, path.join(work, "identity.txt"));
    fs.writeFileSync(path.join(work, "index.age"), index);
    const keys = JSON.parse(execFileSync("age", ["-d", "-i", identityFile], { input: index }).toString()).chunks.map((c: { key: string }) => c.key) as string[];
    for (const key of new Set(keys)) {
      const file = path.join(work, "store", key);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, await fetch(key));
    }
    execFileSync("bash", ["-euo", "pipefail", "-c", reassembleRecipe()], {
      cwd: work,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", STORE: path.join(work, "store"), INDEX: path.join(work, "index.age"), OUT: path.join(work, "artifact") },
      stdio: ["ignore", "ignore", "pipe"],
    });
    return fs.readFileSync(path.join(work, "artifact"));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
