// Chunk work on worker threads of the real agent bundle (dist/agent.mjs, built by setup): the same
// hashes and names as in this thread, and sealed chunks the stock age CLI opens.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { currentPlatform } from "../platform/current";
import { hashChunk } from "../core/storage/chunk-store";
import { chunkWork } from "./chunk-work";

const platform = currentPlatform();
const bundle = pathToFileURL(path.join(import.meta.dirname, "..", "dist", "agent.mjs"));

describe("chunk work on worker threads", () => {
  const saved = process.env.LIFEBOAT_AGENT_WORKERS;
  afterEach(() => {
    if (saved === undefined) delete process.env.LIFEBOAT_AGENT_WORKERS;
    else process.env.LIFEBOAT_AGENT_WORKERS = saved;
  });

  it("hashes and seals chunks in the agent bundle's worker threads as this thread would", async () => {
    expect(fs.existsSync(bundle), "dist/agent.mjs is built by scripts/setup.sh").toBe(true);
    process.env.LIFEBOAT_AGENT_WORKERS = "2";
    const identity = await generateX25519Identity();
    const key = crypto.randomBytes(32);
    const logs: string[] = [];
    const work = chunkWork(platform, bundle, key, [await identityToRecipient(identity)], (m) => logs.push(m));
    try {
      expect(logs.join("\n")).toContain("on 2 worker thread(s)");
      const contents = [crypto.randomBytes(1 << 20), Buffer.alloc(3 << 20, "compressible text ")];
      const results = await Promise.all(
        contents.map(async (content) => {
          const hashed = await work.hash(new Uint8Array(content));
          // The chunk comes back from the worker; sealing hands it over again.
          const back = Buffer.from(hashed.plain);
          const sealed = await work.seal(hashed.plain, "auto");
          return { content, hashed, back, sealed };
        }),
      );
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-workers-"));
      try {
        fs.writeFileSync(path.join(dir, "id.txt"), identity);
        for (const { content, hashed, back, sealed } of results) {
          const here = hashChunk(platform, key, new Uint8Array(content));
          expect([hashed.sha256, hashed.name]).toEqual([here.sha256, here.name]);
          expect(back.equals(content)).toBe(true);
          expect(sealed.stored).toEqual({ sha256: crypto.createHash("sha256").update(sealed.sealed).digest("hex"), size: sealed.sealed.length });
          const opened = execFileSync("age", ["-d", "-i", path.join(dir, "id.txt")], { input: sealed.sealed, maxBuffer: 1 << 26 });
          const plain = sealed.compression === "gzip" ? execFileSync("gzip", ["-dc"], { input: opened, maxBuffer: 1 << 26 }) : opened;
          expect(plain.equals(content)).toBe(true);
        }
        expect(results.map((r) => r.sealed.compression)).toEqual(["none", "gzip"]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await work.close();
    }
  });

  it("keeps the work in this thread when told to (LIFEBOAT_AGENT_WORKERS=0) or when the entry is no bundle", async () => {
    const logs: string[] = [];
    process.env.LIFEBOAT_AGENT_WORKERS = "0";
    const none = chunkWork(platform, bundle, crypto.randomBytes(32), ["age1unused"], (m) => logs.push(m));
    process.env.LIFEBOAT_AGENT_WORKERS = "1";
    const notBundle = chunkWork(platform, new URL(import.meta.url), crypto.randomBytes(32), ["age1unused"], (m) => logs.push(m));
    expect(logs).toEqual([]);
    expect((await none.hash(new Uint8Array([1, 2, 3]))).plain).toEqual(new Uint8Array([1, 2, 3]));
    await Promise.all([none.close(), notBundle.close()]);
  });
});
