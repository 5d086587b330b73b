/**
 * @module An enforcing front for the test S3 server.
 *
 * THIS IS A STAND-IN FOR THE STORAGE PROVIDER'S ACCESS CONTROL, NOT A REAL ONE. s3rver (the test S3 server)
 * checks no SigV4 signature and enforces no policy; this front sits before it on 127.0.0.1 and does what a
 * provider would do for the requests Lifeboat makes:
 *
 * - it verifies SigV4 signatures (the `Authorization` header and presigned query strings), recomputed here with
 *   node:crypto and compared in constant time, and checks a hex `x-amz-content-sha256` against the body;
 * - it maps each request to an action on a key and checks it against the principal's prefix policy
 *   (read / write / list / delete; the admin principal may do anything, everything else is admin-only);
 * - it enforces `If-None-Match: *` on PutObject and CompleteMultipartUpload (s3rver ignores it);
 * - it tracks multipart uploads and answers AbortMultipartUpload itself (s3rver 3.7 answers it with
 *   405 MethodNotAllowed), removing the upload's parts from s3rver's directory when it knows it.
 *
 * Limits, on purpose: path-style requests only; one bucket is subject to policies (other buckets are admin-only);
 * DeleteObjects is refused as a whole when any key is denied (S3 reports per-key errors instead); aws-chunked
 * (`STREAMING-*`) payloads are refused; bodies are buffered in memory; ListParts and ListMultipartUploads are
 * admin-only. Requests that pass are forwarded to s3rver signed afresh by the admin principal (s3rver checks only
 * that the access key id exists, not SigV4 signatures).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { pipeline } from "node:stream";
import { freePort } from "./free-port";

/** Key prefixes within the bucket a principal may use per action ("" = every key). */
export interface Policy {
  read?: string[];
  write?: string[];
  list?: string[];
  delete?: string[];
}

/** One request as the front saw it. `key` is the object key, the prefix of a listing, or DeleteObjects' keys joined by " ". */
export interface FrontRequest {
  accessKeyId: string;
  method: string;
  key: string;
  /** The S3 operation, e.g. `PutObject`, `UploadPart`, `ListObjects`, `DeleteObjects`, `CreateBucket`, `Other`. */
  action: string;
  status: number;
}

/** A multipart upload created through the front and not yet completed or aborted. */
export interface OpenUpload {
  key: string;
  uploadId: string;
}

export interface S3FrontOptions {
  /** `http://127.0.0.1:port` of s3rver. */
  upstream: string;
  /** The region every signature must be scoped to. */
  region: string;
  /** The bucket principals' policies apply to. */
  bucket: string;
  /** The principal with full access (s3rver's own key pair). */
  admin: { accessKeyId: string; secretAccessKey: string };
  /** s3rver's directory, to remove an aborted upload's parts. */
  upstreamDirectory?: string;
}

/** The running front. */
export interface S3Front {
  endpoint: string;
  addPrincipal(accessKeyId: string, secretAccessKey: string, policy: Policy): void;
  openUploads(): OpenUpload[];
  requests: FrontRequest[];
  close(): Promise<void>;
}

type Permission = "read" | "write" | "list" | "delete" | "admin";

interface Need {
  permission: Permission;
  /** The key (or, for `list`, the prefix) the permission is needed on. */
  key: string;
}

interface Classified {
  action: string;
  bucket: string;
  key: string;
  needs: Need[];
  uploadId?: string;
}

interface Principal {
  secret: string;
  policy: Policy | "admin";
}

class S3Failure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const PRESIGN_PARAMS = new Set(["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Content-Sha256"]);
/** Query parameters that leave an object request a plain Get/Head/Put/DeleteObject. */
const OBJECT_PARAMS = new Set(["x-id", "versionId", "partNumber"]);
/** Query parameters of ListObjects (v1 and v2). */
const LIST_PARAMS = new Set(["x-id", "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "fetch-owner", "encoding-type", "marker"]);
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect", "proxy-authorization", "proxy-connection", "content-length"]);
const MAX_SKEW_MS = 15 * 60 * 1000;

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Failure(400, "InvalidURI", "Couldn't parse the specified URI.");
  }
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, e: string) =>
    e === "amp" ? "&" : e === "lt" ? "<" : e === "gt" ? ">" : e === "quot" ? '"' : e === "apos" ? "'" : String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );
}

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `yyyymmddThhmmssZ` → ms since the epoch, or NaN. */
function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
}

/** The raw query string as [name, value] pairs, decoded. */
function parseQuery(raw: string): [string, string][] {
  if (!raw) return [];
  return raw
    .split("&")
    .filter((p) => p !== "")
    .map((p) => {
      const i = p.indexOf("=");
      return i < 0 ? [decode(p), ""] : [decode(p.slice(0, i)), decode(p.slice(i + 1))];
    });
}

function canonicalUri(rawPath: string): string {
  return rawPath.split("/").map((s) => uriEncode(decode(s))).join("/");
}

function canonicalQuery(pairs: [string, string][]): string {
  return pairs
    .map(([n, v]) => [uriEncode(n), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join("&");
}

/** The hex SigV4 signature of a canonical request, under `secret` and the credential scope `scopeDate/region/service/terminator`. */
function signatureOf(secret: string, amzDate: string, scope: [string, string, string, string], canonicalRequest: string): string {
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope.join("/"), sha256(canonicalRequest)].join("\n");
  const signingKey = scope.reduce<Buffer | string>((key, part) => hmac(key, part), `AWS4${secret}`);
  return createHmac("sha256", signingKey).update(stringToSign, "utf8").digest("hex");
}

/** The request's headers by lowercase name, repeated headers joined by ",". */
function headerValues(req: http.IncomingMessage): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    out.set(name, [...(out.get(name) ?? []), req.rawHeaders[i + 1]!]);
  }
  return out;
}

/** Starts the front on a free port of 127.0.0.1. */
export async function startS3Front(options: S3FrontOptions): Promise<S3Front> {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true });
  const principals = new Map<string, Principal>([[options.admin.accessKeyId, { secret: options.admin.secretAccessKey, policy: "admin" }]]);
  const uploads = new Map<string, { bucket: string; key: string }>();
  const requests: FrontRequest[] = [];
  /** Per-object chains that serialize conditional writes (check, then write). */
  const conditionalLocks = new Map<string, Promise<unknown>>();

  function classify(method: string, rawPath: string, query: [string, string][], headers: http.IncomingHttpHeaders, body: Buffer): Classified {
    const segments = rawPath.split("/").slice(1);
    const bucket = decode(segments[0] ?? "");
    const key = segments.slice(1).map(decode).join("/");
    const names = new Set(query.map(([n]) => n).filter((n) => !PRESIGN_PARAMS.has(n)));
    const param = (n: string) => query.find(([k]) => k === n)?.[1];
    const only = (allowed: Set<string>) => [...names].every((n) => allowed.has(n) || n.startsWith("response-"));
    const admin = (action: string): Classified => ({ action, bucket, key, needs: [{ permission: "admin", key }] });
    if (!bucket) return admin(method === "GET" ? "ListBuckets" : "Other");
    if (!key) {
      if (method === "HEAD") return admin("HeadBucket");
      if (method === "GET" && only(LIST_PARAMS)) {
        const prefix = param("prefix") ?? "";
        return { action: "ListObjects", bucket, key: prefix, needs: [{ permission: "list", key: prefix }] };
      }
      if (method === "POST" && names.has("delete") && only(new Set(["delete", "x-id"]))) {
        const keys = [...body.toString("utf8").matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => xmlUnescape(m[1]!));
        return { action: "DeleteObjects", bucket, key: keys.join(" "), needs: keys.length ? keys.map((k) => ({ permission: "delete", key: k })) : [{ permission: "admin", key: "" }] };
      }
      if (method === "PUT" && names.size === 0) return admin("CreateBucket");
      if (method === "DELETE" && names.size === 0) return admin("DeleteBucket");
      return admin("Other");
    }
    const copySource = headers["x-amz-copy-source"];
    const copyNeeds = (): Need[] => {
      if (typeof copySource !== "string") return [];
      const source = decode(copySource.split("?")[0]!.replace(/^\//, ""));
      const slash = source.indexOf("/");
      const sourceBucket = slash < 0 ? source : source.slice(0, slash);
      const sourceKey = slash < 0 ? "" : source.slice(slash + 1);
      return sourceBucket === bucket && sourceKey ? [{ permission: "read", key: sourceKey }] : [{ permission: "admin", key: sourceKey }];
    };
    const uploadId = param("uploadId");
    if (uploadId !== undefined) {
      const base = { bucket, key, uploadId };
      if (method === "PUT" && names.has("partNumber") && only(new Set(["uploadId", "partNumber", "x-id"])))
        return { ...base, action: copySource ? "UploadPartCopy" : "UploadPart", needs: [{ permission: "write", key }, ...copyNeeds()] };
      if (method === "POST" && only(new Set(["uploadId", "x-id"]))) return { ...base, action: "CompleteMultipartUpload", needs: [{ permission: "write", key }] };
      if (method === "DELETE" && only(new Set(["uploadId", "x-id"]))) return { ...base, action: "AbortMultipartUpload", needs: [{ permission: "write", key }] };
      return { ...admin(method === "GET" ? "ListParts" : "Other"), uploadId };
    }
    if (method === "POST" && names.has("uploads") && only(new Set(["uploads", "x-id"]))) return { action: "CreateMultipartUpload", bucket, key, needs: [{ permission: "write", key }] };
    if (!only(OBJECT_PARAMS)) return admin("Other");
    if (method === "GET") return { action: "GetObject", bucket, key, needs: [{ permission: "read", key }] };
    if (method === "HEAD") return { action: "HeadObject", bucket, key, needs: [{ permission: "read", key }] };
    if (method === "PUT" && !names.has("partNumber")) return { action: copySource ? "CopyObject" : "PutObject", bucket, key, needs: [{ permission: "write", key }, ...copyNeeds()] };
    if (method === "DELETE" && !names.has("partNumber")) return { action: "DeleteObject", bucket, key, needs: [{ permission: "delete", key }] };
    return admin("Other");
  }

  function allowed(principal: Principal, bucket: string, need: Need): boolean {
    if (principal.policy === "admin") return true;
    if (need.permission === "admin" || bucket !== options.bucket) return false;
    const prefixes = principal.policy[need.permission] ?? [];
    return prefixes.some((p) => need.key.startsWith(p));
  }

  /** Verifies the request's SigV4 signature; returns its access key id. */
  function authenticate(req: http.IncomingMessage, rawPath: string, rawQuery: string, query: [string, string][], body: Buffer): string {
    const headers = headerValues(req);
    const authorization = headers.get("authorization")?.[0];
    const presigned = query.some(([n]) => n === "X-Amz-Algorithm");
    if (authorization !== undefined && presigned) throw new S3Failure(400, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified");
    if (authorization === undefined && !presigned) throw new S3Failure(403, "AccessDenied", "Access Denied (anonymous requests are not allowed)");

    let credential: string, signedHeaders: string, signature: string, amzDate: string, payloadHash: string;
    const malformed = presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
    if (presigned) {
      const q = (n: string) => query.find(([k]) => k === n)?.[1];
      if (q("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") throw new S3Failure(400, malformed, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
      const [c, h, s, d, e] = [q("X-Amz-Credential"), q("X-Amz-SignedHeaders"), q("X-Amz-Signature"), q("X-Amz-Date"), q("X-Amz-Expires")];
      if (c === undefined || h === undefined || s === undefined || d === undefined || e === undefined)
        throw new S3Failure(400, malformed, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
      [credential, signedHeaders, signature, amzDate] = [c, h, s, d];
      payloadHash = q("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD";
    } else {
      const m = /^AWS4-HMAC-SHA256\s+(.*)$/.exec(authorization!);
      if (!m) throw new S3Failure(400, "InvalidArgument", "Unsupported Authorization Type (only AWS4-HMAC-SHA256 is accepted)");
      const parts = new Map(
        m[1]!.split(",").map((p) => {
          const i = p.indexOf("=");
          return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
        }),
      );
      const [c, h, s] = [parts.get("Credential"), parts.get("SignedHeaders"), parts.get("Signature")];
      if (c === undefined || h === undefined || s === undefined) throw new S3Failure(400, malformed, "The authorization header is malformed; it requires Credential, SignedHeaders and Signature.");
      [credential, signedHeaders, signature] = [c, h, s];
      const d = headers.get("x-amz-date")?.[0];
      if (d === undefined) throw new S3Failure(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
      amzDate = d;
      const p = headers.get("x-amz-content-sha256")?.[0];
      if (p === undefined) throw new S3Failure(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
      payloadHash = p;
    }

    const [accessKeyId, scopeDate, region, service, terminator, ...extra] = credential.split("/");
    const principal = accessKeyId === undefined ? undefined : principals.get(accessKeyId);
    if (!principal) throw new S3Failure(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    if (extra.length || service !== "s3" || terminator !== "aws4_request" || scopeDate !== amzDate.slice(0, 8)) throw new S3Failure(400, malformed, `The credential "${credential}" is malformed.`);
    if (region !== options.region) throw new S3Failure(400, malformed, `The region '${region}' is wrong; expecting '${options.region}'`);
    const time = parseAmzDate(amzDate);
    if (Number.isNaN(time)) throw new S3Failure(403, "AccessDenied", 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
    if (!presigned && Math.abs(Date.now() - time) > MAX_SKEW_MS) throw new S3Failure(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
    if (/^STREAMING-/.test(payloadHash)) throw new S3Failure(501, "NotImplemented", "aws-chunked payloads are not supported by the test front");
    if (payloadHash !== "UNSIGNED-PAYLOAD" && !/^[0-9a-f]{64}$/.test(payloadHash))
      throw new S3Failure(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.");

    const signed = signedHeaders.split(";");
    if (!signed.includes("host")) throw new S3Failure(403, "AccessDenied", "The host header must be signed");
    const unsigned = [...headers.keys()].filter((n) => n.startsWith("x-amz-") && !signed.includes(n));
    if (unsigned.length) throw new S3Failure(403, "AccessDenied", `There were headers present in the request which were not signed: ${unsigned.join(", ")}`);

    const canonicalQueryString = canonicalQuery(parseQuery(rawQuery).filter(([n]) => !(presigned && n === "X-Amz-Signature")));
    const canonicalHeaders = signed.map((n) => `${n}:${(headers.get(n) ?? []).map((v) => v.trim().replace(/\s+/g, " ")).join(",")}\n`).join("");
    const canonicalRequest = [req.method, canonicalUri(rawPath), canonicalQueryString, canonicalHeaders, signedHeaders, payloadHash].join("\n");
    const expected = signatureOf(principal.secret, amzDate, [scopeDate!, region, service, terminator], canonicalRequest);
    if (!sameHex(expected, signature))
      throw new S3Failure(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");

    if (presigned) {
      const expires = Number(query.find(([n]) => n === "X-Amz-Expires")![1]);
      if (!Number.isInteger(expires) || expires < 0 || expires > 604800) throw new S3Failure(400, malformed, "X-Amz-Expires must be a whole number of seconds between 0 and 604800");
      if (Date.now() > time + expires * 1000) throw new S3Failure(403, "AccessDenied", "Request has expired");
    }
    if (/^[0-9a-f]{64}$/.test(payloadHash) && !sameHex(sha256(body), payloadHash))
      throw new S3Failure(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
    return accessKeyId!;
  }

  /** One request to s3rver; the response (body unread) is the caller's. */
  function upstreamRequest(method: string, pathAndQuery: string, headers: http.OutgoingHttpHeaders, body?: Buffer): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const r = http.request({ host: upstream.hostname, port: upstream.port, method, path: pathAndQuery, headers, agent }, resolve);
      r.on("error", reject);
      r.end(body);
    });
  }

  function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve(Buffer.concat(chunks)));
      stream.on("error", reject);
    });
  }

  async function objectExists(rawPath: string): Promise<boolean> {
    const res = await upstreamRequest("HEAD", rawPath, { host: upstream.host });
    res.resume();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw new S3Failure(500, "InternalError", `the existence check upstream answered ${res.statusCode}`);
  }

  /**
   * The request as s3rver should see it: without the client's authentication (presigned parameters included, so
   * s3rver's own expiry check never stands in for the front's), signed afresh by the admin principal, without
   * hop-by-hop headers.
   */
  function forwardedRequest(req: http.IncomingMessage, rawPath: string, rawQuery: string, body: Buffer): { pathAndQuery: string; headers: http.OutgoingHttpHeaders } {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && name !== "authorization" && value !== undefined) headers[name] = value;
    if (body.length || req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined) headers["content-length"] = body.length;
    const query = rawQuery
      .split("&")
      .filter((p) => p !== "" && !PRESIGN_PARAMS.has(decode(p.split("=")[0]!)))
      .join("&");
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, "");
    const payloadHash = typeof headers["x-amz-content-sha256"] === "string" ? headers["x-amz-content-sha256"] : "UNSIGNED-PAYLOAD";
    headers["x-amz-date"] = amzDate;
    headers["x-amz-content-sha256"] = payloadHash;
    const host = req.headers.host ?? upstream.host;
    headers.host = host;
    const signedHeaders = "host;x-amz-content-sha256;x-amz-date";
    const canonicalHeaders = `host:${host}\nx-amz-content-sha256:${payloadHash}\nx-amz-date:${amzDate}\n`;
    const canonicalRequest = [req.method, canonicalUri(rawPath), canonicalQuery(parseQuery(query)), canonicalHeaders, signedHeaders, payloadHash].join("\n");
    const scope: [string, string, string, string] = [amzDate.slice(0, 8), options.region, "s3", "aws4_request"];
    const signature = signatureOf(options.admin.secretAccessKey, amzDate, scope, canonicalRequest);
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${options.admin.accessKeyId}/${scope.join("/")}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return { pathAndQuery: query ? `${rawPath}?${query}` : rawPath, headers };
  }

  function sendError(req: http.IncomingMessage, res: http.ServerResponse, failure: S3Failure, key: string): void {
    if (res.headersSent) return void res.destroy();
    if (req.method === "HEAD") {
      res.writeHead(failure.status, { "x-amz-request-id": "lifeboat-s3-front" });
      return void res.end();
    }
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${failure.code}</Code><Message>${xmlEscape(failure.message)}</Message><Key>${xmlEscape(key)}</Key><RequestId>lifeboat-s3-front</RequestId></Error>`;
    res.writeHead(failure.status, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml), "x-amz-request-id": "lifeboat-s3-front" });
    res.end(xml);
  }

  function sendUpstream(res: http.ServerResponse, up: http.IncomingMessage, body?: Buffer): void {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    if (up.headers["content-length"] !== undefined) headers["content-length"] = body ? body.length : up.headers["content-length"];
    else if (body) headers["content-length"] = body.length;
    res.writeHead(up.statusCode ?? 502, headers);
    if (body) return void res.end(body);
    // Headers go out now, not with the first body byte: s3rver answers a range of an empty object with
    // Content-Length: 1 and no byte, and the client must still see the status and headers.
    res.flushHeaders();
    // A client that goes away early (a cancelled body) takes the upstream response with it.
    pipeline(up, res, () => {});
  }

  /** Runs `fn` after every earlier conditional write on the same object. */
  async function underLock<T>(lockKey: string, fn: () => Promise<T>): Promise<T> {
    const before = conditionalLocks.get(lockKey) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    conditionalLocks.set(lockKey, tail);
    try {
      return await run;
    } finally {
      if (conditionalLocks.get(lockKey) === tail) conditionalLocks.delete(lockKey);
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, entry: FrontRequest): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? "" : url.slice(q + 1);
    const body = await readAll(req);
    const query = parseQuery(rawQuery);
    const c = classify(req.method ?? "GET", rawPath, query, req.headers, body);
    Object.assign(entry, { action: c.action, key: c.key });
    const accessKeyId = authenticate(req, rawPath, rawQuery, query, body);
    entry.accessKeyId = accessKeyId;
    const principal = principals.get(accessKeyId)!;
    const denied = c.needs.find((n) => !allowed(principal, c.bucket, n));
    if (denied) throw new S3Failure(403, "AccessDenied", `Access Denied: ${accessKeyId} may not ${c.action} on "${denied.key}"`);

    if (c.uploadId !== undefined && c.action !== "ListParts" && c.action !== "Other") {
      const upload = uploads.get(c.uploadId);
      if (!upload || upload.bucket !== c.bucket || upload.key !== c.key)
        throw new S3Failure(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.");
    }
    const forward = forwardedRequest(req, rawPath, rawQuery, body);

    if (c.action === "AbortMultipartUpload") {
      const up = await upstreamRequest("DELETE", forward.pathAndQuery, forward.headers);
      await readAll(up);
      if (up.statusCode !== 204 && up.statusCode !== 200 && up.statusCode !== 405 && up.statusCode !== 501)
        throw new S3Failure(up.statusCode ?? 500, "InternalError", `s3rver answered AbortMultipartUpload with ${up.statusCode}`);
      // s3rver 3.7 has no AbortMultipartUpload (405): the front drops the upload and its parts itself.
      uploads.delete(c.uploadId!);
      if (options.upstreamDirectory && /^[0-9a-zA-Z_-]+$/.test(c.uploadId!))
        fs.rmSync(path.join(options.upstreamDirectory, c.bucket, "._S3rver_uploads", c.uploadId!), { recursive: true, force: true });
      res.writeHead(204, { "x-amz-request-id": "lifeboat-s3-front" });
      return void res.end();
    }

    const conditional = (c.action === "PutObject" || c.action === "CompleteMultipartUpload") && req.headers["if-none-match"] !== undefined;
    if (conditional && req.headers["if-none-match"]!.trim() !== "*") throw new S3Failure(501, "NotImplemented", "If-None-Match supports only * on writes");
    const send = async () => {
      if (conditional && (await objectExists(rawPath)))
        throw new S3Failure(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold (If-None-Match)");
      const up = await upstreamRequest(req.method!, forward.pathAndQuery, forward.headers, body);
      if (c.action === "CreateMultipartUpload" || c.action === "CompleteMultipartUpload") {
        const upBody = await readAll(up);
        const ok = up.statusCode === 200 && !/<Error>/.test(upBody.toString("utf8"));
        if (ok && c.action === "CreateMultipartUpload") {
          const id = /<UploadId>([^<]+)<\/UploadId>/.exec(upBody.toString("utf8"))?.[1];
          if (id) uploads.set(xmlUnescape(id), { bucket: c.bucket, key: c.key });
        }
        if (ok && c.action === "CompleteMultipartUpload") uploads.delete(c.uploadId!);
        sendUpstream(res, up, upBody);
      } else {
        sendUpstream(res, up);
      }
    };
    if (conditional) await underLock(`${c.bucket}/${c.key}`, send);
    else await send();
  }

  const server = http.createServer((req, res) => {
    const entry: FrontRequest = { accessKeyId: "", method: req.method ?? "", key: "", action: "Other", status: 0 };
    // Logged when the response is complete, or when the client went away before that (a cancelled body).
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      entry.status = res.statusCode;
      requests.push(entry);
    };
    res.on("finish", log);
    res.on("close", log);
    handle(req, res, entry).catch((err: unknown) => {
      const failure = err instanceof S3Failure ? err : new S3Failure(500, "InternalError", `test front: ${err instanceof Error ? err.message : String(err)}`);
      sendError(req, res, failure, entry.key);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    addPrincipal(accessKeyId, secretAccessKey, policy) {
      if (principals.get(accessKeyId)?.policy === "admin") throw new Error(`${accessKeyId} is the admin principal`);
      if (!accessKeyId || accessKeyId.includes("/")) throw new Error(`invalid access key id "${accessKeyId}"`);
      principals.set(accessKeyId, { secret: secretAccessKey, policy: structuredClone(policy) });
    },
    openUploads: () => [...uploads].map(([uploadId, u]) => ({ key: u.key, uploadId })),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}
