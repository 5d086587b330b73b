/**
 * @module The manifest as part of a snapshot's proof: before a restore or verify
 * touches anything, the stored manifest is fetched, its hash checked against the
 * ledger's record, decrypted (age authenticates it), and its artifacts compared
 * with the ones the job was sent.
 */
import { isLifeboatError, LifeboatError } from "../core/errors";
import type { Manifest } from "../core/records";
import type { ReadJob } from "../core/spec";
import { decryptStream } from "../core/storage/age/decrypt";
import type { Destination } from "../core/storage/destination";
import { verified } from "../core/storage/measure";
import type { JobContext } from "./job-context";

/**
 * Checks the snapshot's manifest against the job (the ledger's record).
 * @throws INTEGRITY saying the manifest is missing, altered, or lists other artifacts.
 */
export async function checkManifest(job: ReadJob, jc: JobContext, destination: Destination): Promise<void> {
  const what = `The manifest of snapshot "${job.snapshotId}" of "${job.sourceHost}"`;
  const hint = "the snapshot in storage is not the one the ledger recorded: restore another snapshot, and check who can write to the storage";
  let text = "";
  try {
    const stored = verified(jc.platform, destination.get(job.manifest.key, jc.signal), { sha256: job.manifest.sha256, size: job.manifest.size }, job.manifest.key);
    const decoder = new TextDecoder();
    for await (const chunk of decryptStream(jc.platform, job.identity, stored)) text += decoder.decode(chunk, { stream: true });
  } catch (err) {
    if (isLifeboatError(err) && err.code === "NOT_FOUND") throw new LifeboatError("INTEGRITY", `${what} is missing from storage ("${job.manifest.key}")`, { hint });
    if (isLifeboatError(err) && err.code === "INTEGRITY") throw new LifeboatError("INTEGRITY", `${what} was altered: ${err.message}`, { hint });
    throw err;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    throw new LifeboatError("INTEGRITY", `${what} is not a Lifeboat manifest`, { hint });
  }
  if (manifest.format !== "lifeboat-manifest/1" || manifest.host !== job.sourceHost || manifest.snapshotId !== job.snapshotId || !Array.isArray(manifest.artifacts)) {
    throw new LifeboatError("INTEGRITY", `${what} describes another snapshot ("${String(manifest.host)}"/"${String(manifest.snapshotId)}")`, { hint });
  }
  for (const artifact of job.artifacts) {
    const listed = manifest.artifacts.find((a) => a.instance === artifact.instance && a.name === artifact.name);
    if (!listed || listed.key !== artifact.key || listed.sha256 !== artifact.sha256 || listed.storedSize !== artifact.storedSize) {
      throw new LifeboatError("INTEGRITY", `${what} does not list artifact ${artifact.instance}/${artifact.name} as the ledger records it`, { hint });
    }
  }
}
