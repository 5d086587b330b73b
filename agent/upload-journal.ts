/**
 * @module The agent's journal of unfinished uploads (`<agentDir>/uploads/`): a
 * multipart upload is written down when it starts and crossed out when it is
 * completed or aborted, so the next job on the host aborts what a killed job
 * left (its parts would otherwise be stored, and billed, until a lifecycle rule
 * removes them). Jobs hold the host's job lock, so every entry found at the
 * start of a job belongs to a job that is gone.
 */
import type { Platform } from "../core/platform";
import type { OpenUpload, UploadJournal } from "../core/storage/destination";

/** One file per upload, named by a hash of its id (ids are the store's, of any shape). */
export class FileUploadJournal implements UploadJournal {
  private readonly dir: string;

  constructor(
    private readonly platform: Platform,
    agentDir: string,
  ) {
    this.dir = `${agentDir}/uploads`;
  }

  private fileOf(upload: OpenUpload): string {
    const hash = this.platform.sha256();
    hash.update(new TextEncoder().encode(`${upload.destination}\n${upload.key}\n${upload.uploadId}`));
    return `${this.dir}/${hash.digestHex().slice(0, 32)}.json`;
  }

  async opened(upload: OpenUpload): Promise<void> {
    await this.platform.mkdir(this.dir, 0o700);
    await this.platform.writeFile(this.fileOf(upload), JSON.stringify(upload), 0o600);
  }

  async closed(upload: OpenUpload): Promise<void> {
    await this.platform.remove(this.fileOf(upload));
  }

  async list(): Promise<OpenUpload[]> {
    let names: string[];
    try {
      names = await this.platform.readdir(this.dir);
    } catch {
      return [];
    }
    const uploads: OpenUpload[] = [];
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      try {
        const entry = JSON.parse(await this.platform.readText(`${this.dir}/${name}`)) as OpenUpload;
        if (typeof entry.destination === "string" && typeof entry.key === "string" && typeof entry.uploadId === "string") uploads.push(entry);
        else await this.platform.remove(`${this.dir}/${name}`);
      } catch {
        await this.platform.remove(`${this.dir}/${name}`); // torn by a kill mid-write: nothing to abort by
      }
    }
    return uploads;
  }
}
