/**
 * @module The `presigned` destination: download links that the controller issues
 * for exactly the objects one restore or verify job reads, expiring after a
 * bounded time. The host holds no storage credentials at all: it can read those
 * objects and nothing else, and can write, list or delete nothing.
 */
import { LifeboatError, messageOf, redact } from "../../errors";
import type { ByteStream } from "../../platform";
import type { Destination, DestinationSpec, DestinationType, StoredObject } from "../destination";
import { checkKey } from "../object-keys";

/** Settings of a `presigned` destination: issued by the controller, never configured. */
export interface PresignedSpec extends DestinationSpec {
  type: "presigned";
  /** The destination the links point into, as people recognise it (no credentials). */
  of: string;
  /** When the links stop working (ISO-8601). */
  expiresAt: string;
  /** Object key → its download link. Each link is a bearer credential for one object. */
  objects: Record<string, string>;
}

/** The `presigned` destination type: read-only, one link per object. */
export const presignedDestination: DestinationType<PresignedSpec> = {
  type: "presigned",
  issuedOnly: true,
  read(r) {
    const objects = r.stringMap("objects");
    for (const [key, url] of Object.entries(objects)) {
      checkKey(key);
      if (!/^https?:\/\//.test(url)) throw r.fail("objects", `the link of "${key}" is not an http(s) URL`);
    }
    const spec: PresignedSpec = { type: "presigned", of: r.string("of"), expiresAt: r.string("expiresAt"), objects };
    if (Number.isNaN(Date.parse(spec.expiresAt))) throw r.fail("expiresAt", `expected an ISO-8601 time, got "${spec.expiresAt}"`);
    r.rejectUnknown();
    return spec;
  },
  describe: (spec) => `${spec.of} (download links)`,
  secrets: (spec) => Object.values(spec.objects),
  open: async (_platform, spec) => new PresignedDestination(spec),
};

/** Answers of a storage that are worth asking again. */
const TRANSIENT = new Set([500, 502, 503, 504]);
/** Tries per link request, and the pause before the second (then four times longer each). */
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 250;

/** Reads objects through their links; every other operation is refused. */
class PresignedDestination implements Destination {
  readonly description: string;
  private readonly secrets: string[];

  constructor(private readonly spec: PresignedSpec) {
    this.description = presignedDestination.describe(spec);
    this.secrets = presignedDestination.secrets(spec);
  }

  private link(key: string, action: string): string {
    const url = this.spec.objects[checkKey(key)];
    if (url === undefined) {
      throw new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: this job was given no link for it`, {
        hint: "the controller issues links only for the objects of the snapshot the job opens; run the job again from the controller",
      });
    }
    return url;
  }

  private refused(action: string, key: string): LifeboatError {
    return new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: a restore or verify job may only read the objects it was given links for`);
  }

  /**
   * The link's response; a transient answer of the storage (500, 502, 503,
   * 504: S3's InternalError and SlowDown) is asked again, {@link ATTEMPTS} in
   * all, as the S3 SDK does for its own requests. Nothing was read yet.
   */
  private async fetch(key: string, action: string, init: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const response = await this.fetchOnce(key, action, init);
      if (!TRANSIENT.has(response.status) || attempt >= ATTEMPTS || init.signal?.aborted) return this.checked(key, action, response);
      await response.body?.cancel().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * 4 ** (attempt - 1)));
    }
  }

  private async fetchOnce(key: string, action: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.link(key, action), init);
    } catch (err) {
      if (err instanceof LifeboatError) throw err;
      if (init.signal?.aborted) throw new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: the download was aborted`);
      throw new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: ${redact(messageOf(err), this.secrets)}`, {
        hint: "check the destination's endpoint and the host's network",
      });
    }
  }

  /** `response` if it is a success. @throws NOT_FOUND or DESTINATION naming the key, the code and whether the link expired */
  private async checked(key: string, action: string, response: Response): Promise<Response> {
    if (response.ok) return response;
    const body = redact(await response.text().catch(() => ""), this.secrets);
    if (response.status === 404) throw new LifeboatError("NOT_FOUND", `Cannot ${action} "${key}" at ${this.description}: no such object`);
    const expired = Date.parse(this.spec.expiresAt) <= Date.now() || /expired/i.test(body);
    const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? `HTTP ${response.status}`;
    const tries = TRANSIENT.has(response.status) ? `, ${ATTEMPTS} tries` : "";
    throw new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: ${expired ? `the download link expired at ${this.spec.expiresAt}` : `${code} (HTTP ${response.status}${tries})`}`, {
      hint: expired ? "run the job again: the controller issues fresh links for each job" : "the storage refused the link; check the controller's credentials for this destination",
    });
  }

  async *get(key: string, signal?: AbortSignal): ByteStream {
    const response = await this.fetch(key, "read", signal ? { signal } : {});
    if (!response.body) return;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) yield chunk;
    } catch (err) {
      throw new LifeboatError("DESTINATION", `Cannot read "${key}" at ${this.description}: ${redact(messageOf(err), this.secrets)}`);
    }
  }

  async head(key: string): Promise<number | null> {
    // A link signs one method (GET): start the download, read its length, stop it.
    try {
      const controller = new AbortController();
      const response = await this.fetch(key, "inspect", { signal: controller.signal });
      const size = Number(response.headers.get("content-length") ?? 0);
      controller.abort();
      return size;
    } catch (err) {
      if (err instanceof LifeboatError && err.code === "NOT_FOUND") return null;
      throw err;
    }
  }

  async put(key: string): Promise<number> {
    throw this.refused("store", key);
  }

  async putNew(key: string): Promise<number | null> {
    throw this.refused("store", key);
  }

  // eslint-disable-next-line require-yield
  async *list(prefix: string): AsyncIterable<StoredObject> {
    throw this.refused("list", prefix || "/");
  }

  async delete(key: string): Promise<void> {
    throw this.refused("delete", key);
  }

  async close(): Promise<void> {}
}
