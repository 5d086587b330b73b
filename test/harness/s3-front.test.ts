// The enforcing S3 front (a stand-in for a provider's access control) in front of the real s3rver,
// driven by the real AWS SDK: signatures, prefix policies, presigned URLs, If-None-Match and multipart tracking.
import { createHash, createHmac } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startS3Server, type S3Server } from "./s3-server";

const MiB = 1024 * 1024;
let s3: S3Server;
const clients: S3Client[] = [];

function client(accessKeyId: string, secretAccessKey: string): S3Client {
  const c = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}

/** Resolves to the SDK error's name and HTTP status (fails the test when the promise resolves). */
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error("expected the request to fail, and it succeeded");
}

async function text(c: S3Client, key: string): Promise<string> {
  const out = await c.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return out.Body!.transformToString();
}

function body(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) b.writeUInt32BE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** node:crypto's SHA-256 in the shape @smithy/signature-v4 wants. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData) => (typeof d === "string" ? Buffer.from(d, "utf8") : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

let admin: S3Client;
beforeAll(async () => {
  s3 = await startS3Server();
  admin = client(s3.accessKeyId, s3.secretAccessKey);
  s3.addPrincipal("WRITER", "writer-secret", { write: ["hosts/a/"] });
  s3.addPrincipal("READER", "reader-secret", { read: ["hosts/a/"] });
  s3.addPrincipal("LISTER", "lister-secret", { list: ["hosts/a/"] });
  s3.addPrincipal("DELETER", "deleter-secret", { delete: ["hosts/a/"] });
  s3.addPrincipal("ALL", "all-secret", { read: [""], write: [""], list: [""], delete: [""] });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await s3?.stop();
});

describe("the admin principal", () => {
  it("puts, gets, lists and deletes", async () => {
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "admin/one.txt", Body: "one" }));
    expect(await text(admin, "admin/one.txt")).toBe("one");
    expect((await admin.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "admin/one.txt" }))).ContentLength).toBe(3);
    const listed = await admin.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "admin/" }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(["admin/one.txt"]);
    await admin.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: "admin/one.txt" }));
    expect((await failure(admin.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "admin/one.txt" })))).name).toBe("NoSuchKey");
    expect(s3.requests.filter((r) => r.accessKeyId === "S3RVER" && r.key === "admin/one.txt").map((r) => `${r.action} ${r.status}`)).toEqual([
      "PutObject 200",
      "GetObject 200",
      "HeadObject 200",
      "DeleteObject 204",
      "GetObject 404",
    ]);
  });

  it("keys with characters that need encoding sign and round-trip, for the admin and for a principal", async () => {
    const all = client("ALL", "all-secret");
    for (const key of ["odd/a b+c!'()*~=&?#%.txt", "odd/ünïcødé/日本.txt", "odd/semi;colon,comma:colon@at$dollar"]) {
      await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: key }));
      expect(await text(all, key)).toBe(key);
      await all.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${key}.2`, Body: "2" }));
      expect(await text(admin, `${key}.2`)).toBe("2");
    }
    const listed = await all.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "odd/a b+c!'()*" }));
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual(["odd/a b+c!'()*~=&?#%.txt", "odd/a b+c!'()*~=&?#%.txt.2"]);
  });
});

describe("a principal with write on hosts/a/ only", () => {
  it("puts under hosts/a/, single and multipart", async () => {
    const writer = client("WRITER", "writer-secret");
    await writer.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/single", Body: "single" }));
    expect(await text(admin, "hosts/a/single")).toBe("single");

    const data = body(12 * MiB, 1);
    await new Upload({ client: writer, params: { Bucket: s3.bucket, Key: "hosts/a/multi", Body: data }, partSize: 5 * MiB, queueSize: 2 }).done();
    const got = await admin.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/multi" }));
    expect(sha(await got.Body!.transformToByteArray())).toBe(sha(data));
    const actions = s3.requests.filter((r) => r.accessKeyId === "WRITER" && r.key === "hosts/a/multi").map((r) => `${r.action} ${r.status}`);
    expect(actions).toEqual(["CreateMultipartUpload 200", "UploadPart 200", "UploadPart 200", "UploadPart 200", "CompleteMultipartUpload 200"]);
    expect(s3.openUploads().filter((u) => u.key === "hosts/a/multi")).toEqual([]);
  });

  it("cannot put elsewhere, nor get, list or delete anything", async () => {
    const writer = client("WRITER", "writer-secret");
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/b/existing", Body: "b" }));
    await writer.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/mine", Body: "mine" }));

    expect(await failure(writer.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/b/x", Body: "x" })))).toMatchObject({ name: "AccessDenied", status: 403 });
    expect(await failure(writer.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/b/existing", Body: "overwritten" })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(writer.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/ab", Body: "x" })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(writer.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: "hosts/b/multi" })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(writer.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/mine" })))).toMatchObject({ name: "AccessDenied", status: 403 });
    expect((await failure(writer.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/mine" })))).status).toBe(403);
    expect(await failure(writer.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "hosts/a/" })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(writer.send(new ListObjectsV2Command({ Bucket: s3.bucket })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(writer.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/mine" })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(writer.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: [{ Key: "hosts/a/mine" }] } })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(writer.send(new CreateBucketCommand({ Bucket: "another" })))).toMatchObject({ name: "AccessDenied" });

    // Nothing of that reached s3rver.
    expect(await text(admin, "hosts/b/existing")).toBe("b");
    expect(await text(admin, "hosts/a/mine")).toBe("mine");
    const keys = (await admin.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "hosts/" }))).Contents?.map((o) => o.Key);
    expect(keys).not.toContain("hosts/b/x");
    expect(keys).not.toContain("hosts/ab");
    expect(s3.requests.filter((r) => r.accessKeyId === "WRITER" && r.key === "hosts/b/x")).toEqual([{ accessKeyId: "WRITER", method: "PUT", key: "hosts/b/x", action: "PutObject", status: 403 }]);
  });
});

describe("list and delete policies", () => {
  it("list is allowed when the requested prefix starts with a listed prefix", async () => {
    const lister = client("LISTER", "lister-secret");
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/listed", Body: "l" }));
    const out = await lister.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "hosts/a/" }));
    expect(out.Contents?.map((o) => o.Key)).toContain("hosts/a/listed");
    await lister.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "hosts/a/list" }));
    expect(await failure(lister.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "hosts/" })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(lister.send(new ListObjectsV2Command({ Bucket: s3.bucket })))).toMatchObject({ name: "AccessDenied" });
    expect(await failure(lister.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/listed" })))).toMatchObject({ name: "AccessDenied" });
  });

  it("DeleteObjects needs delete on every key", async () => {
    const deleter = client("DELETER", "deleter-secret");
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/d1", Body: "1" }));
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/b/d2", Body: "2" }));
    expect(await failure(deleter.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: [{ Key: "hosts/a/d1" }, { Key: "hosts/b/d2" }] } })))).toMatchObject({ name: "AccessDenied" });
    expect(await text(admin, "hosts/a/d1")).toBe("1");
    await deleter.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: [{ Key: "hosts/a/d1" }] } }));
    expect((await failure(admin.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/d1" })))).name).toBe("NoSuchKey");
    expect(await failure(deleter.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: "hosts/b/d2" })))).toMatchObject({ name: "AccessDenied" });
    expect(await text(admin, "hosts/b/d2")).toBe("2");
  });
});

describe("authentication", () => {
  it("a wrong secret is SignatureDoesNotMatch, an unknown key InvalidAccessKeyId, no credentials 403", async () => {
    expect(await failure(client("WRITER", "not-the-secret").send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/wrong", Body: "x" })))).toMatchObject({
      name: "SignatureDoesNotMatch",
      status: 403,
    });
    expect(await failure(client("S3RVER", "guess").send(new ListObjectsV2Command({ Bucket: s3.bucket })))).toMatchObject({ name: "SignatureDoesNotMatch" });
    expect(await failure(client("NOBODY", "whatever").send(new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/single" })))).toMatchObject({
      name: "InvalidAccessKeyId",
      status: 403,
    });

    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "public/maybe", Body: "x" }));
    const get = await fetch(`${s3.endpoint}/${s3.bucket}/public/maybe`);
    expect(get.status).toBe(403);
    expect(await get.text()).toContain("<Code>AccessDenied</Code>");
    const put = await fetch(`${s3.endpoint}/${s3.bucket}/public/anon`, { method: "PUT", body: "anon" });
    expect(put.status).toBe(403);
    const list = await fetch(`${s3.endpoint}/${s3.bucket}?list-type=2`);
    expect(list.status).toBe(403);
    expect((await failure(admin.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "public/anon" })))).name).toBe("NoSuchKey");
  });

  it("a body that does not match its signed x-amz-content-sha256 is refused, and so is a tampered header", async () => {
    const signer = new SignatureV4({ credentials: { accessKeyId: "WRITER", secretAccessKey: "writer-secret" }, region: s3.region, service: "s3", sha256: Sha256, uriEscapePath: false });
    const url = new URL(`${s3.endpoint}/${s3.bucket}/hosts/a/signed-by-hand`);
    const signed = await signer.sign(new HttpRequest({ method: "PUT", protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host, "x-amz-content-sha256": sha(Buffer.from("hello")) }, body: "hello" }));
    const { host: _host, ...headers } = signed.headers;
    const send = (b: string, extra: Record<string, string> = {}) => fetch(url, { method: "PUT", headers: { ...headers, ...extra }, body: b });
    const tampered = await send("hellO");
    expect(tampered.status).toBe(400);
    expect(await tampered.text()).toContain("XAmzContentSHA256Mismatch");
    const unsignedHeader = await send("hello", { "x-amz-meta-extra": "1" });
    expect(unsignedHeader.status).toBe(403);
    const wrongType = await send("hello", { "x-amz-content-sha256": sha(Buffer.from("hellO")) });
    expect(await wrongType.text()).toContain("SignatureDoesNotMatch");
    const ok = await send("hello");
    expect(ok.status).toBe(200);
    expect(await text(admin, "hosts/a/signed-by-hand")).toBe("hello");
  });
});

describe("presigned URLs", () => {
  it("a presigned GET by a reader of hosts/a/ works; the same URL for another key does not", async () => {
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/presigned", Body: "presigned body" }));
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/other", Body: "other body" }));
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/b/secret", Body: "top secret body" }));
    const reader = client("READER", "reader-secret");
    const url = await getSignedUrl(reader, new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/presigned" }), { expiresIn: 300 });
    expect(url).toContain("X-Amz-Signature=");

    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("presigned body");

    const edited = await fetch(url.replace("/hosts/a/presigned?", "/hosts/a/other?"));
    expect(edited.status).toBe(403);
    expect(await edited.text()).toContain("SignatureDoesNotMatch");
    const editedOut = await fetch(url.replace("/hosts/a/presigned?", "/hosts/b/secret?"));
    expect(editedOut.status).toBe(403);
    const editedOutBody = await editedOut.text();
    expect(editedOutBody).toContain("SignatureDoesNotMatch");
    expect(editedOutBody).not.toContain("top secret body");

    const outside = await fetch(await getSignedUrl(reader, new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/b/secret" }), { expiresIn: 300 }));
    expect(outside.status).toBe(403);
    expect(await outside.text()).toContain("<Code>AccessDenied</Code>");

    const writer = client("WRITER", "writer-secret");
    const writerUrl = await getSignedUrl(writer, new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/presigned" }), { expiresIn: 300 });
    expect((await fetch(writerUrl)).status).toBe(403);
  });

  it("a range of an empty object gets its status and headers (s3rver declares Content-Length: 1 and sends nothing)", async () => {
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/empty", Body: "" }));
    const url = await getSignedUrl(client("READER", "reader-secret"), new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/empty" }), { expiresIn: 300 });
    const res = await fetch(url, { headers: { Range: "bytes=0-0" }, signal: AbortSignal.timeout(5000) });
    expect(res.headers.get("content-range")).toBe("bytes 0-0/0");
    await res.body?.cancel();
  });

  it("an expired URL is refused", async () => {
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/short-lived", Body: "soon gone" }));
    const url = await getSignedUrl(client("READER", "reader-secret"), new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/short-lived" }), { expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    const res = await fetch(url);
    expect(res.status).toBe(403);
    const xml = await res.text();
    expect(xml).toContain("<Code>AccessDenied</Code>");
    expect(xml).toMatch(/expired/);
  });
});

describe("If-None-Match: *", () => {
  it("PutObject over an existing key is 412 PreconditionFailed and leaves it alone; on a new key it succeeds", async () => {
    const all = client("ALL", "all-secret");
    await all.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "cond/new", Body: "first", IfNoneMatch: "*" }));
    expect(await text(admin, "cond/new")).toBe("first");
    expect(await failure(all.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "cond/new", Body: "second", IfNoneMatch: "*" })))).toMatchObject({
      name: "PreconditionFailed",
      status: 412,
    });
    expect(await text(admin, "cond/new")).toBe("first");
    // Concurrent conditional writes of one key: exactly one wins.
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => all.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "cond/race", Body: `w${n}`, IfNoneMatch: "*" }))));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("CompleteMultipartUpload over an existing key is 412 and the upload stays open", async () => {
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "cond/multi", Body: "already here" }));
    const created = await admin.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: "cond/multi" }));
    const part = await admin.send(new UploadPartCommand({ Bucket: s3.bucket, Key: "cond/multi", UploadId: created.UploadId, PartNumber: 1, Body: "part" }));
    const complete = (ifNoneMatch?: string) =>
      admin.send(
        new CompleteMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: "cond/multi",
          UploadId: created.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {}),
        }),
      );
    expect(await failure(complete("*"))).toMatchObject({ name: "PreconditionFailed", status: 412 });
    expect(await text(admin, "cond/multi")).toBe("already here");
    expect(s3.openUploads()).toContainEqual({ key: "cond/multi", uploadId: created.UploadId });
    await complete();
    expect(await text(admin, "cond/multi")).toBe("part");
    expect(s3.openUploads().map((u) => u.uploadId)).not.toContain(created.UploadId);
  });
});

describe("openUploads()", () => {
  it("lists an upload left open and AbortMultipartUpload removes it", async () => {
    const writer = client("WRITER", "writer-secret");
    const created = await writer.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: "hosts/a/left-open" }));
    await writer.send(new UploadPartCommand({ Bucket: s3.bucket, Key: "hosts/a/left-open", UploadId: created.UploadId, PartNumber: 1, Body: body(5 * MiB, 2) }));
    expect(s3.openUploads()).toContainEqual({ key: "hosts/a/left-open", uploadId: created.UploadId });

    // The upload id belongs to its key: it cannot be used to write (or abort) another.
    expect(await failure(writer.send(new UploadPartCommand({ Bucket: s3.bucket, Key: "hosts/a/elsewhere", UploadId: created.UploadId, PartNumber: 2, Body: "x" })))).toMatchObject({
      name: "NoSuchUpload",
      status: 404,
    });

    await writer.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: "hosts/a/left-open", UploadId: created.UploadId }));
    expect(s3.openUploads().map((u) => u.uploadId)).not.toContain(created.UploadId);
    expect(await failure(writer.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: "hosts/a/left-open", UploadId: created.UploadId })))).toMatchObject({ name: "NoSuchUpload" });
    expect(await failure(admin.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "hosts/a/left-open" })))).toMatchObject({ name: "NoSuchKey" });
  });

  it("an Upload failing midway stays open with leavePartsOnError, and is aborted through the front without it", async () => {
    const writer = client("WRITER", "writer-secret");
    const failing = (key: string) =>
      async function* () {
        yield body(5 * MiB, 3);
        yield body(1 * MiB, 4);
        await vi.waitFor(() => expect(s3.requests.some((r) => r.key === key && r.action === "UploadPart" && r.status === 200)).toBe(true));
        throw new Error("the source broke");
      };
    const kept = new Upload({ client: writer, params: { Bucket: s3.bucket, Key: "hosts/a/kept", Body: Readable.from(failing("hosts/a/kept")()) }, partSize: 5 * MiB, leavePartsOnError: true });
    await expect(kept.done()).rejects.toThrow("the source broke");
    const open = s3.openUploads().filter((u) => u.key === "hosts/a/kept");
    expect(open).toHaveLength(1);
    await admin.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: "hosts/a/kept", UploadId: open[0]!.uploadId }));
    expect(s3.openUploads().filter((u) => u.key === "hosts/a/kept")).toEqual([]);

    const dropped = new Upload({ client: writer, params: { Bucket: s3.bucket, Key: "hosts/a/dropped", Body: Readable.from(failing("hosts/a/dropped")()) }, partSize: 5 * MiB });
    // The source's own error surfaces (not a failed abort).
    await expect(dropped.done()).rejects.toThrow("the source broke");
    expect(s3.openUploads().filter((u) => u.key === "hosts/a/dropped")).toEqual([]);
    expect(s3.requests.filter((r) => r.key === "hosts/a/dropped" && r.action === "AbortMultipartUpload").map((r) => r.status)).toEqual([204]);
  });
});
