/** @module Reading what Lifeboat stored, the way an operator without Lifeboat would: files, S3, then the stock `age` CLI. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import type { Fleet } from "../harness/fleet";
import { reassembleWithRecipe } from "../harness/age-recipe";

/** The stored (encrypted) bytes of `key` in destination `destination` of the test fleet. */
export async function readStored(fleet: Fleet, destination: string, key: string): Promise<Buffer> {
  if (destination === "local") return fs.readFileSync(path.join(fleet.dir, "local-store", key));
  if (destination === "sftp") return fs.readFileSync(path.join(fleet.vaultStore, key));
  const out = await fleet.s3.client().send(new GetObjectCommand({ Bucket: fleet.s3.bucket, Key: `fleet/${key}` }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Replaces the stored bytes of `key` (to simulate tampering in storage). */
export async function writeStored(fleet: Fleet, destination: string, key: string, bytes: Buffer): Promise<void> {
  if (destination === "local") return fs.writeFileSync(path.join(fleet.dir, "local-store", key), bytes);
  if (destination === "sftp") return fs.writeFileSync(path.join(fleet.vaultStore, key), bytes);
  await fleet.s3.client().send(new PutObjectCommand({ Bucket: fleet.s3.bucket, Key: `fleet/${key}`, Body: bytes }));
}

/** Deletes the stored object `key` (to simulate a lost or deleted object). */
export async function deleteStored(fleet: Fleet, destination: string, key: string): Promise<void> {
  if (destination === "local") return fs.rmSync(path.join(fleet.dir, "local-store", key));
  if (destination === "sftp") return fs.rmSync(path.join(fleet.vaultStore, key));
  await fleet.s3.client().send(new DeleteObjectCommand({ Bucket: fleet.s3.bucket, Key: `fleet/${key}` }));
}

/** The keys of every object stored under `prefix` in destination `destination` of the test fleet (S3: listed with the admin key), sorted. */
export async function listStored(fleet: Fleet, destination: string, prefix: string): Promise<string[]> {
  if (destination === "local" || destination === "sftp") {
    const root = destination === "local" ? path.join(fleet.dir, "local-store") : fleet.vaultStore;
    const dir = path.join(root, prefix);
    if (!fs.existsSync(dir)) return [];
    const files = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((p) => fs.statSync(path.join(dir, p)).isFile());
    return files.map((p) => `${prefix}${p}`).sort();
  }
  const client = fleet.s3.client();
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: fleet.s3.bucket, Prefix: `fleet/${prefix}`, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!.slice("fleet/".length)));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return keys.sort();
}

/** Decrypts with the stock `age` CLI and the controller's identity file, then decompresses with the stock tools. */
export function decryptWithAgeCli(fleet: Fleet, stored: Buffer, compression: string): Buffer {
  const plain = execFileSync("age", ["-d", "-i", path.join(fleet.state, "age-identity.txt")], { input: stored, maxBuffer: 1 << 30 });
  if (compression === "zstd") return execFileSync("zstd", ["-d", "-q", "-c"], { input: plain, maxBuffer: 1 << 30 });
  if (compression === "gzip") return execFileSync("gzip", ["-d", "-c"], { input: plain, maxBuffer: 1 << 30 });
  return plain;
}

/**
 * An artifact's plain bytes read with the stock tools only: one object through
 * {@link decryptWithAgeCli}, or a chunked artifact reassembled with the recipe of docs/storage-format.md.
 */
export async function readWithStockTools(fleet: Fleet, destination: string, artifact: { key: string; compression: string }): Promise<Buffer> {
  const stored = await readStored(fleet, destination, artifact.key);
  if (artifact.compression !== "chunked") return decryptWithAgeCli(fleet, stored, artifact.compression);
  return reassembleWithRecipe(path.join(fleet.state, "age-identity.txt"), stored, (key) => readStored(fleet, destination, key));
}
