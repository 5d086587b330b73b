/**
 * @module The agent's entry point: `agent run` reads a signed job spec on stdin,
 * refuses it or runs it, and reports NDJSON events on stdout.
 *
 * Exit codes: 0 job ok, 1 job failed (fully or partly), 2 usage, 3 spec refused.
 */
import { runBackup } from "./backup";
import { serveChunkRequests } from "./chunk-work";
import { FileUploadJournal } from "./upload-journal";
import { DestinationBlobStore } from "../core/storage/blob-store";
import { destinationSecrets, openDestination } from "../core/storage/destinations/registry";
import { isLifeboatError, messageOf } from "../core/errors";
import { EventSink } from "./event-sink";
import { splitHooks } from "../core/hooks";
import { JobContext } from "./job-context";
import { acquireJobLock, sweepScratch, type JobLock } from "./job-lock";
import { Lifeline } from "./lifeline";
import { currentPlatform } from "../platform/current";
import { type Platform } from "../core/platform";
import { runPrune } from "./prune";
import { runRestore } from "./restore";
import { runVerify } from "./verify";
import { acceptSpec, readPinning } from "./spec/accept";
import type { JobSpec } from "../core/spec";
import { LIFEBOAT_VERSION } from "../core/version";

const USAGE = `usage: agent run [--dir DIR] [--attached]   run the signed job spec read from stdin
       agent version                        print version and runtime as JSON
DIR defaults to ~/.lifeboat (pinned controller key, replay journal, scratch space).
--attached: the spec is the first line of stdin, and stdin stays open for the whole job;
when it closes (the controller or its connection is gone) the job stops and cleans up.`;

/** The options of `agent run`, or null when they are malformed. */
function runOptions(args: string[]): { dir?: string; attached: boolean } | null {
  const options: { dir?: string; attached: boolean } = { attached: false };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--attached") options.attached = true;
    else if (args[i] === "--dir" && args[i + 1] !== undefined && options.dir === undefined) options.dir = args[++i];
    else return null;
  }
  return options;
}

async function main(platform: Platform): Promise<number> {
  const [command, ...rest] = platform.args();
  if (command === "version") {
    await platform.writeStdout(`${JSON.stringify({ version: LIFEBOAT_VERSION, runtime: platform.runtime, runtimeVersion: platform.runtimeVersion })}\n`);
    return 0;
  }
  const options = command === "run" ? runOptions(rest) : null;
  if (!options) {
    platform.writeStderr(`${USAGE}\n`);
    return 2;
  }
  const dir = options.dir ?? `${platform.homedir()}/.lifeboat`;
  const events = new EventSink(platform);
  let spec: JobSpec;
  try {
    const input = options.attached ? await platform.readStdinLine() : await platform.readStdin();
    spec = await acceptSpec(platform, input, await readPinning(platform, dir), `${dir}/nonces`);
  } catch (err) {
    const code = isLifeboatError(err) ? err.code : "INTERNAL";
    const hint = isLifeboatError(err) ? err.hint : undefined;
    events.emit({ type: "error", code, message: messageOf(err), ...(hint ? { hint } : {}) });
    events.log(`lifeboat agent: ${messageOf(err)}${hint ? `\n  hint: ${hint}` : ""}`);
    await events.flush();
    return 3;
  }
  return runJob(platform, spec, dir, options.attached);
}

/** The values of a plugin instance's hook environment (secrets); none when its config is malformed (the job reports that itself). */
function hookSecrets(config: unknown): string[] {
  try {
    return Object.values(splitHooks(config, "plugins").hooks.env);
  } catch {
    return [];
  }
}

async function runJob(platform: Platform, spec: JobSpec, dir: string, attached: boolean): Promise<number> {
  const secrets = [
    ...destinationSecrets(spec.destination),
    ...(spec.kind === "restore" || spec.kind === "verify" ? [spec.identity, spec.blobIdentity ?? ""] : []),
    ...(spec.kind === "backup" && spec.blobKey ? [spec.blobKey] : []),
    ...spec.plugins.flatMap((p) => hookSecrets(p.config)),
  ];
  const events = new EventSink(platform, secrets);
  const began = Date.now();
  events.emit({
    type: "start",
    jobId: spec.jobId,
    kind: spec.kind,
    host: spec.host,
    agentVersion: LIFEBOAT_VERSION,
    runtime: `${platform.runtime} ${platform.runtimeVersion}`,
    time: new Date().toISOString(),
    snapshotId: spec.snapshotId,
  });
  const scratchDir = `${dir}/scratch/${spec.jobId}`;
  const lifeline = new Lifeline(platform, (line) => events.log(line), () => platform.remove(scratchDir));
  lifeline.watch(attached);
  const jc = new JobContext(platform, events, spec.jobId, scratchDir, secrets, lifeline.signal, spec.kind);
  let status: "ok" | "partial" | "failed" = "failed";
  let lock: JobLock | undefined;
  try {
    lock = await acquireJobLock(platform, dir, spec.jobId, (line) => events.log(line));
    const swept = await sweepScratch(platform, dir, spec.jobId);
    if (swept.length > 0) events.emit({ type: "warning", message: `removed the scratch space of ${swept.length} earlier job(s) that did not end cleanly: ${swept.join(", ")}` });
    await platform.mkdir(scratchDir, 0o700);
    const destination = await openDestination(platform, spec.destination, { journal: new FileUploadJournal(platform, dir) });
    const left = await destination.abortLeftUploads?.().catch((err: unknown) => {
      events.emit({ type: "warning", message: `could not abort the uploads an earlier job left at ${destination.description}: ${messageOf(err)}` });
      return 0;
    });
    if (left) events.emit({ type: "warning", message: `aborted ${left} unfinished upload(s) that an earlier job left at ${destination.description} (it did not end cleanly)` });
    const blobKey = spec.kind === "backup" && spec.blobKey ? Uint8Array.from(atob(spec.blobKey), (c) => c.charCodeAt(0)) : new Uint8Array(32);
    jc.blobs =
      spec.kind === "backup"
        ? new DestinationBlobStore(platform, destination, blobKey, spec.blobRecipients ?? spec.recipients, undefined, { known: spec.knownBlobs ?? {}, snapshotId: spec.snapshotId })
        : spec.kind === "prune"
          ? jc.blobs
          : new DestinationBlobStore(platform, destination, blobKey, [], spec.blobIdentity ?? spec.identity);
    try {
      status =
        spec.kind === "backup"
          ? await runBackup(spec, jc, destination, dir, new URL(import.meta.url))
          : spec.kind === "restore"
            ? await runRestore(spec, jc, destination)
            : spec.kind === "verify"
              ? await runVerify(spec, jc, destination)
              : await runPrune(spec, jc, destination);
    } finally {
      await destination.close();
    }
  } catch (err) {
    jc.reportError(err);
    status = "failed";
  } finally {
    await platform.remove(scratchDir);
    await lock?.release();
  }
  events.emit({
    type: "done",
    status,
    durationMs: Date.now() - began,
    snapshotId: spec.snapshotId,
    ...(jc.manifest ? { manifestKey: jc.manifest.key, manifestSha256: jc.manifest.sha256, manifestStoredSize: jc.manifest.size } : {}),
  });
  await events.flush();
  return status === "ok" ? 0 : 1;
}

const platform = currentPlatform();
// A worker thread of a backup (the same bundle, started by chunkWork) serves chunk work instead.
if (!platform.workerRequests?.(serveChunkRequests(platform))) main(platform).then(
  (code) => platform.exit(code),
  (err: unknown) => {
    platform.writeStderr(`lifeboat agent: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    platform.exit(1);
  },
);
