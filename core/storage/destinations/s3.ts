/** @module The `s3` destination: any S3-compatible endpoint, streaming multipart uploads that are aborted on failure. */
import type { S3Client } from "@aws-sdk/client-s3";
import { parseDuration } from "../../durations";
import { isLifeboatError, LifeboatError, messageOf, redact } from "../../errors";
import type { ByteStream } from "../../platform";
import type { Destination, DestinationSpec, DestinationType, OpenUpload, StoredObject, UploadJournal } from "../destination";
import { checkKey, checkPrefix } from "../object-keys";
import type { PresignedSpec } from "./presigned";

/** Settings of an `s3` destination. */
export interface S3Spec extends DestinationSpec {
  type: "s3";
  /** `https://...` of an S3-compatible service; AWS itself when absent. */
  endpoint?: string;
  region: string;
  bucket: string;
  prefix?: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Path-style addressing; the default for any `endpoint`. */
  forcePathStyle?: boolean;
  /** Multipart part size in MiB (default 16). */
  partSizeMiB?: number;
  /** How long the download links of a restore or verify job live, e.g. `6h` (default 12h, at most 7d). */
  linkExpiry?: string;
}

const DEFAULT_LINK_EXPIRY_MS = 12 * 3600_000;
const MAX_LINK_EXPIRY_MS = 7 * 24 * 3600_000; // SigV4's limit for presigned URLs

/** The `s3` destination type. The AWS SDK is most of the agent's code: it is loaded only when an s3 destination is opened. */
export const s3Destination: DestinationType<S3Spec> = {
  type: "s3",
  read(r) {
    const spec: S3Spec = {
      type: "s3",
      endpoint: r.string("endpoint", true),
      region: r.string("region", true) ?? "us-east-1",
      bucket: r.string("bucket"),
      prefix: r.string("prefix", true),
      accessKeyId: r.string("accessKeyId"),
      secretAccessKey: r.string("secretAccessKey"),
      sessionToken: r.string("sessionToken", true),
      forcePathStyle: r.value("forcePathStyle") as boolean | undefined,
      partSizeMiB: r.number("partSizeMiB", true),
      linkExpiry: r.string("linkExpiry", true),
    };
    if (spec.linkExpiry !== undefined) {
      const ms = parseDuration(spec.linkExpiry);
      if (ms === null || ms < 60_000 || ms > MAX_LINK_EXPIRY_MS) throw r.fail("linkExpiry", `expected a duration between 1m and 7d (download links), got "${spec.linkExpiry}"`);
    }
    if (spec.endpoint && !/^https?:\/\//.test(spec.endpoint)) throw r.fail("endpoint", `expected an http(s) URL, got "${spec.endpoint}"`);
    if (spec.forcePathStyle !== undefined && typeof spec.forcePathStyle !== "boolean") throw r.fail("forcePathStyle", "expected true or false");
    r.rejectUnknown();
    return spec;
  },
  describe: (spec) => `s3 ${spec.endpoint ?? `aws:${spec.region}`}/${spec.bucket}${prefixOf(spec) ? `/${prefixOf(spec).slice(0, -1)}` : ""}`,
  secrets: (spec) => [spec.secretAccessKey, spec.sessionToken ?? "", spec.accessKeyId],
  async open(_platform, spec, options = {}) {
    return new S3Destination(spec, await import("@aws-sdk/client-s3"), options.journal);
  },
  hostFields: ["accessKeyId", "secretAccessKey", "sessionToken"],
  async presign(spec, keys): Promise<PresignedSpec> {
    const [sdk, presigner] = await Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/s3-request-presigner")]);
    const client = new sdk.S3Client(clientConfig(spec));
    const expiresIn = Math.floor((spec.linkExpiry ? parseDuration(spec.linkExpiry)! : DEFAULT_LINK_EXPIRY_MS) / 1000);
    const expiresAt = new Date(Date.now() + expiresIn * 1000).toISOString();
    try {
      const objects: Record<string, string> = {};
      for (const key of new Set(keys)) {
        objects[checkKey(key)] = await presigner.getSignedUrl(client, new sdk.GetObjectCommand({ Bucket: spec.bucket, Key: prefixOf(spec) + key }), { expiresIn });
      }
      return { type: "presigned", of: s3Destination.describe(spec), expiresAt, objects };
    } finally {
      client.destroy();
    }
  },
};

/** The S3 client's settings for a spec. */
function clientConfig(spec: S3Spec): import("@aws-sdk/client-s3").S3ClientConfig {
  return {
    region: spec.region,
    ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
    forcePathStyle: spec.forcePathStyle ?? spec.endpoint !== undefined,
    credentials: { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey, ...(spec.sessionToken ? { sessionToken: spec.sessionToken } : {}) },
    // S3-compatible servers (MinIO, B2, s3rver) often refuse the newer default checksum headers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 5,
  };
}

/** `prefix/` with one trailing slash, or "" for none. */
function prefixOf(spec: S3Spec): string {
  return spec.prefix ? `${spec.prefix.replace(/\/+$/, "")}/` : "";
}

type Sdk = typeof import("@aws-sdk/client-s3");

/** Whether a conditional write failed because the key is taken (HTTP 412). */
function isPreconditionFailed(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "PreconditionFailed" || e.$metadata?.httpStatusCode === 412;
}

/** Regroups a stream into parts of exactly `size` bytes (the last one shorter), copying only what it must. */
async function* partsOf(data: ByteStream, size: number): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size);
  let filled = 0;
  for await (const chunk of data) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(size - filled, chunk.length - offset);
      buffer.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

const NOT_FOUND = new Set(["NoSuchKey", "NotFound", "404"]);
/** Keys per DeleteObjects request (S3's limit), and requests in flight at once. */
const DELETE_BATCH = 1000;
const DELETE_LANES = 4;

/** Objects under `prefix/` in a bucket. Memory per upload: about partSize × 3 (two parts in flight, one filling). */
class S3Destination implements Destination {
  readonly description: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly secrets: string[];
  private readonly partSize: number;

  constructor(
    private readonly spec: S3Spec,
    private readonly sdk: Sdk,
    private readonly journal?: UploadJournal,
  ) {
    this.partSize = (spec.partSizeMiB ?? 16) * 1024 * 1024;
    this.prefix = prefixOf(spec);
    this.description = s3Destination.describe(spec);
    this.secrets = s3Destination.secrets(spec);
    this.client = new sdk.S3Client(clientConfig(spec));
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

  put(key: string, data: ByteStream, signal?: AbortSignal): Promise<number> {
    return this.upload(key, data, signal, false) as Promise<number>;
  }

  putNew(key: string, data: ByteStream, signal?: AbortSignal): Promise<number | null> {
    return this.upload(key, data, signal, true);
  }

  /**
   * One PutObject when the data fits in one part, else a multipart upload with
   * two parts in flight (journaled while it runs, aborted on any failure).
   * `onlyNew` sends `If-None-Match: *`, and a 412 means the key was taken.
   */
  private async upload(key: string, data: ByteStream, signal: AbortSignal | undefined, onlyNew: boolean): Promise<number | null> {
    checkKey(key);
    const target = { Bucket: this.spec.bucket, Key: this.prefix + key };
    const condition = onlyNew ? { IfNoneMatch: "*" } : {};
    const aborted = () => new LifeboatError("DESTINATION", `Cannot store "${key}" at ${this.description}: the upload was aborted`);
    const sendOptions = signal ? { abortSignal: signal } : {};
    const parts = partsOf(data, this.partSize);
    let upload: OpenUpload | undefined;
    let size = 0;
    try {
      const first = await parts.next();
      const firstPart = first.done ? new Uint8Array(0) : first.value;
      size += firstPart.length;
      const second = first.done ? first : await parts.next();
      if (signal?.aborted) throw aborted();
      if (second.done) {
        await this.client.send(new this.sdk.PutObjectCommand({ ...target, ...condition, Body: firstPart, ContentLength: firstPart.length }), sendOptions);
        return size;
      }
      const created = await this.client.send(new this.sdk.CreateMultipartUploadCommand(target), sendOptions);
      upload = { destination: this.description, key, uploadId: created.UploadId! };
      await this.journal?.opened(upload);
      const uploadId = upload.uploadId;
      const done: { ETag: string; PartNumber: number }[] = [];
      const inFlight = new Set<Promise<void>>();
      const send = (body: Uint8Array, number: number) => {
        const p: Promise<void> = this.client
          .send(new this.sdk.UploadPartCommand({ ...target, UploadId: uploadId, PartNumber: number, Body: body, ContentLength: body.length }), sendOptions)
          .then((out) => void done.push({ ETag: out.ETag!, PartNumber: number }))
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      };
      let number = 0;
      send(firstPart, ++number);
      for (let next: IteratorResult<Uint8Array> = second; !next.done; next = await parts.next()) {
        if (signal?.aborted) throw aborted();
        size += next.value.length;
        send(next.value, ++number);
        while (inFlight.size >= 2) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      if (signal?.aborted) throw aborted();
      done.sort((a, b) => a.PartNumber - b.PartNumber);
      await this.client.send(new this.sdk.CompleteMultipartUploadCommand({ ...target, ...condition, UploadId: uploadId, MultipartUpload: { Parts: done } }), sendOptions);
      await this.journal?.closed(upload);
      upload = undefined;
      return size;
    } catch (err) {
      await parts.return?.(undefined).catch(() => {});
      if (upload) {
        await this.abortUpload(upload);
      }
      if (onlyNew && isPreconditionFailed(err)) return null;
      if (isLifeboatError(err)) throw err;
      if (signal?.aborted) throw aborted();
      throw this.fail("store", key, err);
    }
  }

  /**
   * Aborts one multipart upload (its stored parts are deleted) and drops it from the journal.
   * @returns false when the store refused: it stays journaled and is tried again by the next job.
   */
  private async abortUpload(upload: OpenUpload): Promise<boolean> {
    try {
      await this.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.spec.bucket, Key: this.prefix + upload.key, UploadId: upload.uploadId }));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name !== "NoSuchUpload" && (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) return false;
    }
    await this.journal?.closed(upload);
    return true;
  }

  async abortLeftUploads(): Promise<number> {
    let aborted = 0;
    const refused: string[] = [];
    for (const upload of (await this.journal?.list()) ?? []) {
      if (upload.destination !== this.description) continue;
      if (await this.abortUpload(upload)) aborted++;
      else refused.push(upload.key);
    }
    if (refused.length > 0) {
      throw new LifeboatError("DESTINATION", `Cannot abort ${refused.length} unfinished upload(s) at ${this.description} (${refused.join(", ")}); ${aborted} aborted`, {
        hint: "the host's key needs s3:AbortMultipartUpload on its prefix; the next job tries again, the bucket's lifecycle rule removes them in the end",
      });
    }
    return aborted;
  }

  async *get(key: string, signal?: AbortSignal): ByteStream {
    checkKey(key);
    let body: AsyncIterable<Uint8Array>;
    try {
      const out = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.spec.bucket, Key: this.prefix + key }), signal ? { abortSignal: signal } : {});
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
      const out = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.spec.bucket, Key: this.prefix + key }));
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
        out = await this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.spec.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }));
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
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.spec.bucket, Key: this.prefix + key }));
    } catch (err) {
      const failure = this.fail("delete", key, err);
      if (failure.code !== "NOT_FOUND") throw failure;
    }
  }

  async deleteMany(keys: string[]): Promise<{ key: string; error: string }[]> {
    keys.forEach((key) => checkKey(key));
    const failed: { key: string; error: string }[] = [];
    const deleteBatch = async (batch: string[]) => {
      try {
        const out = await this.client.send(new this.sdk.DeleteObjectsCommand({ Bucket: this.spec.bucket, Delete: { Objects: batch.map((key) => ({ Key: this.prefix + key })), Quiet: true } }));
        for (const e of out.Errors ?? []) {
          if (e.Code !== "NoSuchKey") failed.push({ key: (e.Key ?? "").slice(this.prefix.length), error: redact(`${e.Code ?? "Error"}: ${e.Message ?? "not deleted"}`, this.secrets) });
        }
      } catch (err) {
        const error = this.fail(`delete ${batch.length} object(s), the first`, batch[0]!, err).message;
        for (const key of batch) failed.push({ key, error });
      }
    };
    // DELETE_LANES requests of DELETE_BATCH keys at a time.
    for (let at = 0; at < keys.length; at += DELETE_BATCH * DELETE_LANES) {
      const batches: string[][] = [];
      for (let b = at; b < Math.min(keys.length, at + DELETE_BATCH * DELETE_LANES); b += DELETE_BATCH) batches.push(keys.slice(b, b + DELETE_BATCH));
      await Promise.all(batches.map(deleteBatch));
    }
    return failed;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
