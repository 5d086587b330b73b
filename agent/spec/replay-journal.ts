/** @module The agent's replay journal: every accepted nonce, kept until its spec has expired. */
import type { Platform } from "../../core/platform";

/** How long past a spec's expiry its nonce is kept (covers clock skew). */
const KEEP_AFTER_EXPIRY_MS = 60 * 60 * 1000;

/**
 * A directory with one file per accepted nonce. Recording uses an exclusive
 * create, so two agents racing with the same spec cannot both accept it.
 */
export class ReplayJournal {
  constructor(
    private readonly platform: Platform,
    private readonly dir: string,
  ) {}

  /**
   * Records `nonce`. Returns false (and records nothing) when it was seen before.
   * Also forgets nonces whose specs expired long ago, so the journal stays small.
   */
  async record(nonce: string, expiresAt: string, now: Date): Promise<boolean> {
    await this.platform.mkdir(this.dir, 0o700);
    const fresh = await this.platform.createExclusive(`${this.dir}/${nonce}`, expiresAt, 0o600);
    if (fresh) await this.prune(now);
    return fresh;
  }

  private async prune(now: Date): Promise<void> {
    for (const name of await this.platform.readdir(this.dir)) {
      const file = `${this.dir}/${name}`;
      try {
        const expires = Date.parse((await this.platform.readText(file)).trim());
        if (Number.isFinite(expires) && expires + KEEP_AFTER_EXPIRY_MS < now.getTime()) await this.platform.remove(file);
      } catch {
        // A concurrent prune removed it first.
      }
    }
  }
}
