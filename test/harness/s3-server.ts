/**
 * @module An S3 server on loopback for tests: s3rver from npm, with one bucket, behind the enforcing front of
 * ./s3-front (a stand-in for a provider's access control: SigV4 signatures, prefix policies, If-None-Match: *).
 * Every test reaches s3rver through the front's endpoint.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { freePort } from "./free-port";
import { startS3Front, type FrontRequest, type OpenUpload, type Policy } from "./s3-front";

export type { FrontRequest, OpenUpload, Policy } from "./s3-front";

/** A running S3 server (the front's endpoint; the admin key pair has full access). */
export interface S3Server {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Adds a principal whose access to the bucket is limited to `policy`'s key prefixes. */
  addPrincipal(accessKeyId: string, secretAccessKey: string, policy: Policy): void;
  /** Multipart uploads created and not yet completed or aborted, as seen by the front. */
  openUploads(): OpenUpload[];
  /** Every request the front answered, in order of completion. */
  requests: FrontRequest[];
  /** An SDK client of this server, with the admin key (the controller's) unless `credentials` are given; destroy it when done. */
  client(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client;
  stop(): Promise<void>;
}

/** An SDK client of the server at `endpoint`, as the tests use one (no extra checksum headers, no retries hiding a refusal). */
function clientOf(endpoint: string, region: string, credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1,
  });
}

/** Starts s3rver on 127.0.0.1 with a fresh directory and a bucket `lifeboat-test`, and the enforcing front before it. */
export async function startS3Server(): Promise<S3Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-s3-"));
  const port = await freePort();
  const server = new S3rver({ address: "127.0.0.1", port, directory: dir, silent: true, resetOnClose: true });
  await server.run();
  const region = "us-east-1";
  const bucket = "lifeboat-test";
  const admin = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  const front = await startS3Front({ upstream: `http://127.0.0.1:${port}`, region, bucket, admin, upstreamDirectory: dir }).catch(async (err: unknown) => {
    await server.close();
    throw err;
  });
  const endpoint = front.endpoint;
  const client = clientOf(endpoint, region, admin);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    await front.close();
    await server.close();
    throw err;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    region,
    bucket,
    ...admin,
    addPrincipal: (accessKeyId, secretAccessKey, policy) => front.addPrincipal(accessKeyId, secretAccessKey, policy),
    openUploads: () => front.openUploads(),
    requests: front.requests,
    client: (credentials = admin) => clientOf(endpoint, region, credentials),
    async stop() {
      await front.close();
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
