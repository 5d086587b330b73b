/** @module The `s3` destination: any S3-compatible endpoint, streaming multipart uploads that are aborted on failure. */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { isLifeboatError, LifeboatError, messageOf, redact } from "../errors";
import type { ByteStream } from "../platform";
import { toWebStream } from "../pipeline/web-stream";
import { checkKey, checkPrefix } from "./keys";
import type { Destination, DestinationSpec, StoredObject } from "./types";

type S3Spec = Extract<DestinationSpec, { type: "s3" }>;

const NOT_FOUND = new Set(["NoSuchKey", "NotFound", "404"]);

/** Objects under `prefix/` in a bucket. Memory per upload: about partSize × 3. */
export class S3Destination implements Destination {
  readonly description: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly secrets: string[];

  constructor(private readonly spec: S3Spec) {
    this.prefix = spec.prefix ? `${spec.prefix.replace(/\/+$/, "")}/` : "";
    this.description = `s3 ${spec.endpoint ?? `aws:${spec.region}`}/${spec.bucket}${this.prefix ? `/${this.prefix.slice(0, -1)}` : ""}`;
    this.secrets = [spec.secretAccessKey, spec.accessKeyId, spec.sessionToken ?? ""];
    this.client = new S3Client({
      region: spec.region,
      ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
      forcePathStyle: spec.forcePathStyle ?? spec.endpoint !== undefined,
      credentials: { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey, ...(spec.sessionToken ? { sessionToken: spec.sessionToken } : {}) },
      // S3-compatible servers (MinIO, B2, s3rver) often refuse the newer default checksum headers.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 5,
    });
  }

  private fail(action: string, key: string, err: unknown): LifeboatError {
    if (isLifeboatError(err)) return err;
    const e = err as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    const name = e.name ?? e.Code ?? e.code ?? "Error";
    if (NOT_FOUND.has(name) || e.$metadata?.httpStatusCode === 404) {
      return new LifeboatError("NOT_FOUND", `Cannot ${action} "${key}" at ${this.description}: no such object`);
    }
    const hint =
      name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || name === "AccessDenied" || e.$metadata?.httpStatusCode === 403
        ? "check the destination's accessKeyId/secretAccessKey in the inventory and the key's permissions on the bucket"
        : name === "NoSuchBucket"
          ? `create the bucket "${this.spec.bucket}" or fix bucket: in the inventory`
          : e.code === "ECONNREFUSED" || e.code === "ENOTFOUND"
            ? "check the destination's endpoint and the host's network"
            : undefined;
    const detail = redact(`${name}: ${messageOf(err)}`, this.secrets);
    return new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: ${detail}`, hint ? { hint } : {});
  }

  async put(key: string, data: ByteStream, signal?: AbortSignal): Promise<number> {
    checkKey(key);
    let size = 0;
    let sourceError: unknown;
    const counted = async function* () {
      try {
        for await (const chunk of data) {
          size += chunk.length;
          yield chunk;
        }
      } catch (err) {
        sourceError = err;
        throw err;
      }
    };
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.spec.bucket, Key: this.prefix + key, Body: toWebStream(counted()) },
      partSize: (this.spec.partSizeMiB ?? 16) * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort();
    signal?.addEventListener("abort", onAbort);
    try {
      await upload.done();
      if (sourceError !== undefined) throw sourceError;
      return size;
    } catch (err) {
      await upload.abort().catch(() => {});
      if (sourceError !== undefined) throw sourceError;
      if (signal?.aborted) throw new LifeboatError("DESTINATION", `Cannot store "${key}" at ${this.description}: the upload was aborted`);
      throw this.fail("store", key, err);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async *get(key: string, signal?: AbortSignal): ByteStream {
    checkKey(key);
    let body: AsyncIterable<Uint8Array>;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.spec.bucket, Key: this.prefix + key }), signal ? { abortSignal: signal } : {});
      body = out.Body as unknown as AsyncIterable<Uint8Array>;
    } catch (err) {
      throw this.fail("read", key, err);
    }
    try {
      yield* body;
    } catch (err) {
      throw this.fail("read", key, err);
    }
  }

  async head(key: string): Promise<number | null> {
    checkKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.spec.bucket, Key: this.prefix + key }));
      return out.ContentLength ?? 0;
    } catch (err) {
      const failure = this.fail("inspect", key, err);
      if (failure.code === "NOT_FOUND") return null;
      throw failure;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    checkPrefix(prefix);
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(new ListObjectsV2Command({ Bucket: this.spec.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }));
      } catch (err) {
        throw this.fail("list", prefix || "/", err);
      }
      for (const o of out.Contents ?? []) {
        if (o.Key) yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0 };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.spec.bucket, Key: this.prefix + key }));
    } catch (err) {
      const failure = this.fail("delete", key, err);
      if (failure.code !== "NOT_FOUND") throw failure;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
