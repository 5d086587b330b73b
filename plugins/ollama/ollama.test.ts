// The ollama plugin on faithful models directories (real blobs named by their SHA-256; Ollama itself cannot run here).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dockerStandIn } from "../../test/harness/docker-standin";
import { addBlob, addModel } from "../../test/harness/ollama-models";
import { listTree } from "../../test/harness/tree";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { ollamaPlugin, verifyModels } from "./ollama";

describe("ollama plugin", () => {
  let dir: string;
  let models: string;
  let ctx: TestContext;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-ollama-"));
    models = path.join(dir, "models");
    addModel(models, "llama3", "latest", 3 * 1024 * 1024);
    addModel(models, "qwen", "7b", 2 * 1024 * 1024);
    ctx = pluginContext();
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = (m = models) => ollamaPlugin.parseConfig({ models: m }, "hosts.h.plugins.ollama");

  async function backup(m = models) {
    await ollamaPlugin.check(ctx, config(m));
    for await (const a of ollamaPlugin.backup(ctx, config(m))) return { bytes: await collect(a.data), metadata: a.metadata() };
    throw new Error("no artifact");
  }

  const blobArea = () => path.join(ctx.blobDir, "blobs", "v2");
  const storedBlobs = () => (fs.existsSync(blobArea()) ? fs.readdirSync(blobArea()).filter((n) => !n.includes("partial")) : []);

  it("stores each blob once under a keyed name, and nothing again when unchanged", async () => {
    const first = await backup();
    expect(first.metadata).toMatchObject({ manifests: ["registry.ollama.ai/library/llama3/latest", "registry.ollama.ai/library/qwen/7b"], uploadedBlobs: 6 });
    expect(storedBlobs()).toHaveLength(6);
    for (const name of storedBlobs()) expect(name).toMatch(/^[0-9a-f]{64}\.age$/);
    const second = await backup();
    expect(second.metadata.uploadedBlobs).toBe(0);
    expect(storedBlobs()).toHaveLength(6);
  });

  it("does not reference a blob planted under a keyed name: it stores its own under the snapshot's name, and restores the genuine content", async () => {
    fs.mkdirSync(blobArea(), { recursive: true });
    const names = await (async () => {
      await backup();
      const all = storedBlobs();
      for (const n of all) fs.rmSync(path.join(blobArea(), n));
      return all;
    })();
    // A fresh store (an empty ledger) finds every keyed name taken by an object it does not know.
    ctx.cleanup();
    ctx = pluginContext();
    fs.mkdirSync(blobArea(), { recursive: true });
    for (const n of names) fs.writeFileSync(path.join(blobArea(), n), "planted by another host");
    const { bytes, metadata } = await backup();
    const refs = metadata.blobs as { key: string }[];
    expect(refs).toHaveLength(6);
    for (const ref of refs) expect(ref.key).toMatch(/^blobs\/v2\/[0-9a-f]{64}\.20261130T000000Z-test\.age$/);
    const into = path.join(dir, "restored");
    await ollamaPlugin.restore(ctx, config(), [restoreInput(bytes, metadata, false, "manifests.tar")], { into });
    await verifyModels(ctx, `${into}/models`);
  });

  it("stores a model shared by another host once", async () => {
    await backup();
    const other = path.join(dir, "other-host-models");
    fs.cpSync(models, other, { recursive: true });
    addModel(other, "mistral", "latest", 1024);
    const second = await backup(other);
    expect(second.metadata.uploadedBlobs).toBe(3);
  });

  it("restores manifests and blobs so that every blob hashes to its name", async () => {
    const { bytes, metadata } = await backup();
    const into = path.join(dir, "restored");
    await ollamaPlugin.restore(ctx, config(), [restoreInput(bytes, metadata, false, "manifests.tar")], { into });
    // Blobs are rewritten from storage (new mtimes); content, names and modes must match.
    const withoutTimes = (tree: ReturnType<typeof listTree>) => Object.fromEntries(Object.entries(tree).map(([k, { mtimeS: _m, ...v }]) => [k, v]));
    // Relative to the instance's root, the folder above the models directory.
    expect(withoutTimes(listTree(`${into}/models`))).toEqual(withoutTimes(listTree(models)));
    await verifyModels(ctx, `${into}/models`);
  });

  it("refuses a blob whose content does not match its name, storing nothing for it", async () => {
    const digest = addBlob(models, Buffer.from("genuine"));
    fs.writeFileSync(path.join(models, "blobs", digest.replace(":", "-")), "tampered");
    addModel(models, "bad", "latest", 0, [digest]);
    await expect(backup()).rejects.toMatchObject({ code: "INTEGRITY", message: expect.stringContaining("not to its name") });
    expect(fs.readdirSync(path.join(ctx.blobDir, "blobs")).some((n) => n.includes("partial"))).toBe(false);
  });

  it("names a blob a manifest needs but the directory lacks", async () => {
    const [weights] = addModel(models, "gone", "latest", 100);
    fs.rmSync(path.join(models, "blobs", weights!.replace(":", "-")));
    await expect(backup()).rejects.toMatchObject({ code: "SOURCE", message: expect.stringContaining("registry.ollama.ai/library/gone/latest is missing") });
  });

  it("backs up and restores a container's models directory through containerPaths, recording the container path", async () => {
    const standin = dockerStandIn();
    try {
      const cfg = ollamaPlugin.parseConfig({ models: "/root/.ollama/models", container: "ollama", docker: standin.docker, containerPaths: { "/root/.ollama": dir } }, "hosts.h.plugins.ollama");
      await ollamaPlugin.check(ctx, cfg);
      let artifact;
      for await (const a of ollamaPlugin.backup(ctx, cfg)) artifact = { bytes: await collect(a.data), metadata: a.metadata() };
      expect(artifact!.metadata).toMatchObject({ models: "/root/.ollama/models", paths: ["/root/.ollama/models/manifests"], container: "ollama", uploadedBlobs: 6 });
      const into = path.join(dir, "restored");
      const report = await ollamaPlugin.restore(ctx, cfg, [restoreInput(artifact!.bytes, artifact!.metadata, false, "manifests.tar")], { into });
      expect(report.restored[0]).toBe(`${into}/models/manifests`);
      const withoutTimes = (tree: ReturnType<typeof listTree>) => Object.fromEntries(Object.entries(tree).map(([k, { mtimeS: _m, ...v }]) => [k, v]));
      expect(withoutTimes(listTree(`${into}/models`))).toEqual(withoutTimes(listTree(models)));
      await verifyModels(ctx, `${into}/models`);
      const verified = await ollamaPlugin.verify(ctx, cfg, [restoreInput(artifact!.bytes, artifact!.metadata, false, "manifests.tar")], path.join(dir, "scratch"));
      expect(verified.checks[0]).toMatch(/^\/root\/.ollama\/models: 2 models, 6 blobs/);
      expect(standin.calls()).toEqual([]);
    } finally {
      standin.cleanup();
    }
  });
});
