/** @module Schema check of a job spec the agent received (after its signature was verified). */
import { readDestination } from "../../core/storage/destinations/registry";
import type { DestinationSpec } from "../../core/storage/destination";
import { LifeboatError } from "../../core/errors";
import { FieldReader } from "../../core/validate";
import { STORED_COMPRESSIONS, type ArtifactRecord, type ChunkStats } from "../../core/records";
import type { ChunkingSpec, JobSpec, PluginSpec } from "../../core/spec";
import { chunkNameOf } from "../../core/storage-layout";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NONCE = /^[0-9a-f]{32,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const OBJECT_KEY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const SNAPSHOT_FOLDER = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*\/$/;

/**
 * Validates the shape of a job spec.
 * @throws LifeboatError("SPEC_REJECTED") naming the first bad field.
 */
export function parseJobSpec(raw: unknown): JobSpec {
  const r = FieldReader.of(raw, "spec", "SPEC_REJECTED");
  if (r.number("version") !== 1) throw r.fail("version", "unsupported spec version", "upgrade the agent: controller install --host H");
  const kind = r.oneOf("kind", ["backup", "restore", "verify", "prune"] as const);
  const base = {
    version: 1 as const,
    host: matching(r, "host", NAME),
    jobId: matching(r, "jobId", NAME),
    issuedAt: time(r, "issuedAt"),
    expiresAt: time(r, "expiresAt"),
    nonce: matching(r, "nonce", NONCE),
    snapshotId: matching(r, "snapshotId", NAME),
    destination: destination(r.value("destination")),
    plugins: pluginList(r.value("plugins")),
  };
  if (kind === "prune") {
    const own = `${base.host}/`;
    const keys = r.stringList("keys");
    keys.forEach((key, i) => {
      if (!OBJECT_KEY.test(key) || key.split("/").some((part) => part === "." || part === "..")) throw r.fail(`keys[${i}]`, `not an object key: ${JSON.stringify(key.slice(0, 120))}`);
      // Only this host's objects; of its chunk area, only chunk objects as the storage layout names them.
      if (!key.startsWith(own)) throw r.fail(`keys[${i}]`, `not an object of host "${base.host}": ${JSON.stringify(key.slice(0, 120))}`);
      if (key.startsWith(`${own}chunks/`) && chunkNameOf(base.host, key) === null) throw r.fail(`keys[${i}]`, `not a chunk object of host "${base.host}": ${JSON.stringify(key.slice(0, 120))}`);
    });
    const prefixes = r.stringList("prefixes");
    prefixes.forEach((prefix, i) => {
      // Only whole snapshot folders of this host: <host>/<snapshot>/ — never the destination's root, the blob area or the chunk area.
      if (!SNAPSHOT_FOLDER.test(prefix) || !prefix.startsWith(own) || prefix === `${own}chunks/`) {
        throw r.fail(`prefixes[${i}]`, `not a snapshot folder of host "${base.host}" (${base.host}/<snapshot>/): ${JSON.stringify(prefix.slice(0, 120))}`);
      }
    });
    r.rejectUnknown();
    return { ...base, kind, keys, prefixes };
  }
  if (kind === "backup") {
    const recipients = r.stringList("recipients", { nonEmpty: true });
    const blobKey = r.string("blobKey", true);
    if (blobKey !== undefined && !/^[A-Za-z0-9+/]{43}=$/.test(blobKey)) throw r.fail("blobKey", "expected 32 bytes in base64");
    const blobRecipients = r.value("blobRecipients") === undefined ? undefined : r.stringList("blobRecipients", { nonEmpty: true });
    const knownBlobs = r.value("knownBlobs") === undefined ? undefined : r.stringMap("knownBlobs");
    for (const [name, key] of Object.entries(knownBlobs ?? {})) {
      if (!/^[0-9a-f]{64}$/.test(name) || !/^blobs\/(v2\/)?[0-9a-f]{64}(\.[A-Za-z0-9-]+)?\.age$/.test(key)) {
        throw r.fail("knownBlobs", `expected keyed names mapped to keys under blobs/, got "${name.slice(0, 80)}": "${key.slice(0, 120)}"`);
      }
    }
    const chunking = r.value("chunking") === undefined ? undefined : chunkingSpec(r.value("chunking"));
    r.rejectUnknown();
    return { ...base, kind, recipients, ...(blobKey ? { blobKey } : {}), ...(blobRecipients ? { blobRecipients } : {}), ...(knownBlobs ? { knownBlobs } : {}), ...(chunking ? { chunking } : {}) };
  }
  const read = {
    ...base,
    sourceHost: matching(r, "sourceHost", NAME),
    identity: r.string("identity"),
    ...(r.value("blobIdentity") === undefined ? {} : { blobIdentity: r.string("blobIdentity") }),
    artifacts: artifactList(r.value("artifacts")),
    manifest: manifestRecord(r.value("manifest")),
  };
  if (kind === "verify") {
    r.rejectUnknown();
    return { ...read, kind };
  }
  const into = r.absolutePath("into", true);
  const replace = r.value("replace") === undefined ? undefined : r.boolean("replace", false);
  const paths = r.value("paths") === undefined ? undefined : r.stringList("paths", { nonEmpty: true });
  r.rejectUnknown();
  return { ...read, kind, ...(into !== undefined ? { into } : {}), ...(replace !== undefined ? { replace } : {}), ...(paths !== undefined ? { paths } : {}) };
}

function matching(r: FieldReader, name: string, pattern: RegExp): string {
  const v = r.string(name);
  if (!pattern.test(v)) throw r.fail(name, `malformed value ${JSON.stringify(v.slice(0, 40))}`);
  return v;
}

function time(r: FieldReader, name: string): string {
  const v = r.string(name);
  if (Number.isNaN(Date.parse(v))) throw r.fail(name, "expected an ISO-8601 time");
  return v;
}

function pluginList(raw: unknown): PluginSpec[] {
  if (!Array.isArray(raw)) throw new LifeboatError("SPEC_REJECTED", "spec.plugins: expected a list");
  return raw.map((item, i) => {
    const r = FieldReader.of(item, `spec.plugins[${i}]`, "SPEC_REJECTED");
    const spec = { instance: matching(r, "instance", NAME), plugin: matching(r, "plugin", NAME), config: r.value("config") };
    r.rejectUnknown();
    return spec;
  });
}

function artifactList(raw: unknown): ArtifactRecord[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new LifeboatError("SPEC_REJECTED", "spec.artifacts: expected a non-empty list");
  return raw.map((item, i) => {
    const r = FieldReader.of(item, `spec.artifacts[${i}]`, "SPEC_REJECTED");
    const record: ArtifactRecord = {
      plugin: matching(r, "plugin", NAME),
      instance: matching(r, "instance", NAME),
      name: matching(r, "name", NAME),
      key: r.string("key"),
      plainSize: r.number("plainSize"),
      storedSize: r.number("storedSize"),
      sha256: matching(r, "sha256", SHA256),
      compression: r.oneOf("compression", STORED_COMPRESSIONS),
      metadata: (r.value("metadata") ?? {}) as Record<string, unknown>,
      ...(r.value("chunks") === undefined ? {} : { chunks: r.value("chunks") as ChunkStats }),
    };
    r.rejectUnknown();
    return record;
  });
}

function chunkingSpec(raw: unknown): ChunkingSpec {
  const r = FieldReader.of(raw, "spec.chunking", "SPEC_REJECTED");
  const key = r.string("key");
  if (!/^[A-Za-z0-9+/]{43}=$/.test(key)) throw r.fail("key", "expected 32 bytes in base64");
  const parents = r.stringMap("parents");
  for (const [instance, snapshot] of Object.entries(parents)) {
    if (!NAME.test(instance) || !NAME.test(snapshot)) throw r.fail("parents", `expected plugin instances mapped to snapshot ids, got ${JSON.stringify(instance).slice(0, 80)}: ${JSON.stringify(snapshot).slice(0, 80)}`);
  }
  const exclude = r.stringList("exclude");
  exclude.forEach((name, i) => {
    if (!SHA256.test(name)) throw r.fail(`exclude[${i}]`, "expected a keyed chunk name (64 hex digits)");
  });
  const chunking = { key, parents, exclude, rehash: r.boolean("rehash", false) };
  r.rejectUnknown();
  return chunking;
}

function manifestRecord(raw: unknown): { key: string; sha256: string; size: number } {
  const r = FieldReader.of(raw, "spec.manifest", "SPEC_REJECTED");
  const manifest = { key: r.string("key"), sha256: matching(r, "sha256", SHA256), size: r.number("size") };
  r.rejectUnknown();
  return manifest;
}

function destination(raw: unknown): DestinationSpec {
  return readDestination(FieldReader.of(raw, "spec.destination", "SPEC_REJECTED"));
}
