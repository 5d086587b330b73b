/**
 * @module A faithful Ollama models directory (no Ollama binary can run here):
 * `blobs/sha256-<hex>` files whose names are their SHA-256, and
 * `manifests/registry.ollama.ai/library/<model>/<tag>` JSON naming them.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Writes a blob and returns its digest. */
export function addBlob(models: string, content: Buffer): string {
  const hex = crypto.createHash("sha256").update(content).digest("hex");
  fs.mkdirSync(path.join(models, "blobs"), { recursive: true });
  fs.writeFileSync(path.join(models, "blobs", `sha256-${hex}`), content);
  return `sha256:${hex}`;
}

/** Adds model `name:tag` with random weights of `weightBytes` (or given shared layers). */
export function addModel(models: string, name: string, tag: string, weightBytes: number, sharedLayers: string[] = []): string[] {
  const config = addBlob(models, Buffer.from(JSON.stringify({ model_format: "gguf", model_family: name })));
  const weights = weightBytes > 0 ? [addBlob(models, crypto.randomBytes(weightBytes))] : [];
  const template = addBlob(models, Buffer.from(`{{ .Prompt }} ${name}`));
  const layers = [...weights, ...sharedLayers, template];
  const dir = path.join(models, "manifests", "registry.ollama.ai", "library", name);
  fs.mkdirSync(dir, { recursive: true });
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: config, size: 64 },
    layers: layers.map((digest, i) => ({ mediaType: i === 0 ? "application/vnd.ollama.image.model" : "application/vnd.ollama.image.template", digest, size: 0 })),
  };
  fs.writeFileSync(path.join(dir, tag), JSON.stringify(manifest));
  return layers;
}
