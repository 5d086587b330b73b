/**
 * @module `npm run bench:s3`: streaming uploads to the loopback S3 server (s3rver behind the test
 * harness's enforcing front), Lifeboat's s3 destination (its own multipart upload, two parts in
 * flight) against the AWS SDK's lib-storage `Upload` with the same part size and queue, on the same
 * random data. Reports MB/s and the process's peak RSS growth per run.
 */
import * as crypto from "node:crypto";
import { Readable } from "node:stream";
import { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { s3Destination } from "../core/storage/destinations/s3";
import { currentPlatform } from "../platform/current";
import { startS3Server } from "../test/harness/s3-server";

const MiB = 1024 * 1024;
const size = Number(process.env.BENCH_SIZE_MIB ?? 512) * MiB;
const chunk = crypto.randomBytes(4 * MiB);

async function* data(): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < size; sent += chunk.length) yield chunk.subarray(0, Math.min(chunk.length, size - sent));
}

function rssMiB(): number {
  return process.memoryUsage().rss / MiB;
}

const s3 = await startS3Server();
const spec = { type: "s3" as const, endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix: "bench", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
const rows: string[] = [];
try {
  for (const round of [1, 2]) {
    const destination = await s3Destination.open(currentPlatform(), spec);
    let began = Date.now();
    let rss = rssMiB();
    await destination.put(`lifeboat-${round}.bin`, data());
    rows.push(`| lifeboat s3 destination | ${round} | ${((Date.now() - began) / 1000).toFixed(2)} | ${(size / MiB / ((Date.now() - began) / 1000)).toFixed(1)} | ${(rssMiB() - rss).toFixed(0)} |`);
    await destination.close();

    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, requestChecksumCalculation: "WHEN_REQUIRED" });
    began = Date.now();
    rss = rssMiB();
    await new Upload({ client, params: { Bucket: s3.bucket, Key: `bench/sdk-${round}.bin`, Body: Readable.from(data()) }, partSize: 16 * MiB, queueSize: 2 }).done();
    rows.push(`| lib-storage Upload | ${round} | ${((Date.now() - began) / 1000).toFixed(2)} | ${(size / MiB / ((Date.now() - began) / 1000)).toFixed(1)} | ${(rssMiB() - rss).toFixed(0)} |`);
    client.destroy();
  }
} finally {
  await s3.stop();
}
console.log(`${size / MiB} MiB of random data, 16 MiB parts, 2 in flight, to s3rver behind the enforcing front on loopback\n`);
console.log("| uploader | round | seconds | MiB/s | RSS growth MiB |\n| --- | ---: | ---: | ---: | ---: |");
console.log(rows.join("\n"));
