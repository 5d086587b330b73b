/** @module A real PluginContext for plugin tests: the Node platform, a scratch dir, collected logs and warnings. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { currentPlatform } from "../platform/current";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { DestinationBlobStore } from "../core/storage/blob-store";
import { localDestination } from "../core/storage/destinations/local";
import type { ArtifactSource, PluginContext, RestoreInput } from "../plugins/contract";
import type { BlobStore } from "../core/storage/blob-store";
import type { ArtifactRecord } from "../core/records";
import { throughChunks } from "./harness/agent-backup";

/** A context plus what the plugin said. */
export interface TestContext extends PluginContext {
  warnings: string[];
  /** Where the test blob store keeps its objects. */
  blobDir: string;
  logs: string[];
  cleanup(): void;
}

/**
 * A blob store on a local destination in `dir`, with its own age identity
 * (backup and restore in one). Like the controller's ledger, it knows the blobs
 * it uploaded: those are referenced, not uploaded, the next time.
 */
function localBlobStore(dir: string): BlobStore {
  const known: Record<string, string> = {};
  const store = (async () => {
    const identity = await generateX25519Identity();
    const platform = currentPlatform();
    return new DestinationBlobStore(platform, await localDestination.open(platform, { type: "local", path: dir }), new Uint8Array(32).fill(7), [await identityToRecipient(identity)], identity, { known, snapshotId: "20261130T000000Z-test" });
  })();
  return {
    put: async (digest, size, open) => {
      const s = await store;
      const ref = await s.put(digest, size, open);
      if (ref.uploaded) known[s.nameOf(digest)] = ref.key;
      return ref;
    },
    get: (ref) =>
      (async function* () {
        yield* (await store).get(ref);
      })(),
  };
}

/** A fresh plugin context with its own scratch directory (and blob area inside it). */
export function pluginContext(jobId = `job-${Date.now().toString(36)}`): TestContext {
  const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-scratch-"));
  const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-blobs-"));
  const warnings: string[] = [];
  const logs: string[] = [];
  return {
    platform: currentPlatform(),
    blobs: localBlobStore(blobDir),
    blobDir,
    jobId,
    scratchDir,
    warnings,
    logs,
    log: (m) => logs.push(m),
    warn: (m) => warnings.push(m),
    cleanup: () => {
      fs.rmSync(scratchDir, { recursive: true, force: true });
      fs.rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

/**
 * An artifact's plain bytes as a restore gets them back: through a real chunked
 * store (its units, or its stream; chunked, compressed, encrypted, written, read
 * back with every check), so every plugin test restores from chunked storage.
 */
export async function artifactBytes(artifact: ArtifactSource): Promise<Buffer> {
  return throughChunks(artifact);
}

/** Reads a stream completely. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** A restore input replaying `bytes`, optionally failing (like a hash mismatch) after the last byte. */
export function restoreInput(bytes: Buffer, metadata: Record<string, unknown>, failAtEnd = false, name = "a"): RestoreInput {
  const record: ArtifactRecord = { plugin: "test", instance: "test", name, key: "h/s/test/a.age", plainSize: bytes.length, storedSize: 0, sha256: "0".repeat(64), compression: "none", metadata };
  return {
    record,
    async *open() {
      for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
      if (failAtEnd) throw Object.assign(new Error("Cannot trust stored object: hash mismatch"), { name: "LifeboatError", code: "INTEGRITY" });
    },
  };
}
