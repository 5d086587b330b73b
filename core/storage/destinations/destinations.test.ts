// The destination contract against each implementation, with real components:
// the file system, s3rver, and the rclone binary (a local remote and an S3 remote, configured by environment only).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { describeDestinationContract, describeReadOnlyDestinationContract, destinationTypesUnderContract } from "../../../test/destination-contract";
import { destinationTypeNames } from "./registry";
import { startS3Server, type S3Server } from "../../../test/harness/s3-server";
import { currentPlatform } from "../../../platform/current";
import { localDestination } from "./local";
import { presignedDestination, type PresignedSpec } from "./presigned";
import { rcloneDestination } from "./rclone";
import { s3Destination } from "./s3";

const platform = currentPlatform();

function walk(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((p) => fs.statSync(path.join(dir, p)).isFile()).sort() : [];
}

async function bucketKeys(s3: S3Server): Promise<string[]> {
  const client = s3.client();
  const out = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  client.destroy();
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

describeDestinationContract(localDestination, "a directory", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-local-"));
  return { destination: await localDestination.open(platform, { type: "local", path: root }), rawNames: async () => walk(root), secrets: [], cleanup: async () => fs.rmSync(root, { recursive: true, force: true }) };
});

describeDestinationContract(s3Destination, "s3rver", async () => {
  const s3 = await startS3Server();
  const destination = await s3Destination.open(platform, { type: "s3", endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix: "lb", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, partSizeMiB: 5 });
  return { destination, rawNames: () => bucketKeys(s3), secrets: [s3.secretAccessKey], cleanup: () => s3.stop() };
});

describeDestinationContract(rcloneDestination, "local remote, configured by environment", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-rclone-"));
  const destination = await rcloneDestination.open(platform, { type: "rclone", remote: `store:${root}/objects`, env: { RCLONE_CONFIG_STORE_TYPE: "local" } });
  return { destination, rawNames: async () => walk(root), secrets: [], cleanup: async () => fs.rmSync(root, { recursive: true, force: true }) };
});

describeDestinationContract(rcloneDestination, "S3 remote, credentials only in the environment", async () => {
  const s3 = await startS3Server();
  const secret = "S3RVER";
  const destination = await rcloneDestination.open(platform, {
    type: "rclone",
    remote: `offsite:${s3.bucket}/via-rclone`,
    env: {
      RCLONE_CONFIG_OFFSITE_TYPE: "s3",
      RCLONE_CONFIG_OFFSITE_PROVIDER: "Other",
      RCLONE_CONFIG_OFFSITE_ENDPOINT: s3.endpoint,
      RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID: s3.accessKeyId,
      RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY: secret,
      RCLONE_CONFIG_OFFSITE_FORCE_PATH_STYLE: "true",
    },
  });
  return { destination, rawNames: () => bucketKeys(s3), secrets: [], cleanup: () => s3.stop() };
});

describeReadOnlyDestinationContract(presignedDestination, "links issued by the s3 type", async () => {
  const s3 = await startS3Server();
  const spec = { type: "s3" as const, endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix: "lb", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  return {
    store: await s3Destination.open(platform, spec),
    async issue(keys) {
      const links = (await s3Destination.presign!(spec, keys)) as PresignedSpec;
      return { destination: await presignedDestination.open(platform, links), secrets: Object.values(links.objects) };
    },
    cleanup: () => s3.stop(),
  };
});

describe("destination contract coverage", () => {
  it("runs the contract suite for every registered destination type", () => {
    expect([...destinationTypesUnderContract].sort()).toEqual(destinationTypeNames().sort());
  });
});

describe("download links on a storage that answers 5xx now and then", () => {
  /** A link server answering `failures` times with `status` (S3's error body), then the object. */
  async function flakyServer(status: number, failures: number): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
    const http = await import("node:http");
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      if (requests <= failures) {
        res.writeHead(status, { "Content-Type": "application/xml" });
        res.end(`<?xml version="1.0"?><Error><Code>${status === 503 ? "SlowDown" : "InternalError"}</Code></Error>`);
        return;
      }
      res.writeHead(200, { "Content-Length": "5" });
      res.end("hello");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    return { url: `http://127.0.0.1:${port}/bucket/h/o.age?X-Amz-Signature=secret-signature`, requests: () => requests, close: () => new Promise((r) => server.close(() => r())) };
  }
  const links = (url: string): PresignedSpec => ({ type: "presigned", of: "s3 test", expiresAt: new Date(Date.now() + 3_600_000).toISOString(), objects: { "h/o.age": url } });
  const read = async (spec: PresignedSpec) => {
    const d = await presignedDestination.open(platform, spec);
    const parts: Uint8Array[] = [];
    for await (const p of d.get("h/o.age")) parts.push(p);
    return Buffer.concat(parts).toString();
  };

  it("asks again after a 500 or 503, and reads the object", async () => {
    for (const status of [500, 503]) {
      const s = await flakyServer(status, 2);
      try {
        expect(await read(links(s.url))).toBe("hello");
        expect(s.requests()).toBe(3);
      } finally {
        await s.close();
      }
    }
  });

  it("gives up after three tries, naming the code and the tries, never the link", async () => {
    const s = await flakyServer(500, 10);
    try {
      const err = await read(links(s.url)).catch((e: Error) => e);
      expect(String(err)).toContain("InternalError (HTTP 500, 3 tries)");
      expect(String(err)).not.toContain("secret-signature");
      expect(s.requests()).toBe(3);
    } finally {
      await s.close();
    }
  });

  it("does not ask again after a 403: the link is refused, not the storage busy", async () => {
    const s = await flakyServer(403, 10);
    try {
      await expect(read(links(s.url))).rejects.toThrow(/HTTP 403\)/);
      expect(s.requests()).toBe(1);
    } finally {
      await s.close();
    }
  });
});
