/** @module `controller fetch`: one artifact of a stored snapshot, downloaded and opened on the controller. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LifeboatError } from "../../core/errors";
import { verified } from "../../core/storage/measure";
import { openStoredArtifact } from "../../core/storage/snapshot-check";
import { currentPlatform } from "../../platform/current";
import { parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_OK } from "../exit-codes";
import { openForReading } from "../jobs/read-storage";
import { identitiesFor } from "../jobs/snapshot-job";
import { formatBytes } from "../output/format";
import { emit, type Command } from "./command";

const usage = `usage: controller fetch --from H [--snapshot ID|latest] --artifact INSTANCE/NAME --out FILE|- [--force] [--json]
Downloads one artifact of a complete snapshot of host H onto the controller, with the controller's
own credentials (a local destination: over H's SSH login), and writes its plain content to FILE (- for stdout): the object's hash is checked
against the ledger, age authenticates every chunk, and it is decompressed. No host is contacted.
The artifact is what the plugin stored: a tar stream for files, the database file for sqlite, a
pg_dump archive for postgres, an RDB file for redis... (controller snapshots --host H lists them).
The object is downloaded and checked before it is opened, and FILE is written only once everything
checked out (with --out -, a decompression failure can leave partial output: exit 1); an existing
FILE is refused unless --force. A local destination (a directory on H) is read over H's SSH login.
Exit code: 0 written, 1 the stored object failed a check (nothing written), 2 usage.`;

export const fetchCommand: Command = {
  name: "fetch",
  summary: "download and open one artifact of a snapshot onto the controller",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(argv, { from: { type: "string" }, snapshot: { type: "string" }, artifact: { type: "string" }, out: { type: "string" }, force: { type: "boolean" } }, usage);
    const hint = usage.split("\n")[0];
    if (!values.from) throw new LifeboatError("USAGE", "controller fetch needs --from H", { hint });
    if (!values.out) throw new LifeboatError("USAGE", "controller fetch needs --out FILE (or --out - for stdout)", { hint });
    const ctx = await ControllerContext.open(globals);
    try {
      const host = ctx.host(values.from);
      const selector = values.snapshot ?? "latest";
      const snapshot = ctx.ledger.getSnapshot(host.name, selector);
      if (!snapshot) {
        throw new LifeboatError("NOT_FOUND", `Cannot fetch from "${host.name}": no ${selector === "latest" ? "complete snapshot" : `complete snapshot "${selector}"`} in the ledger`, {
          hint: `list what is stored with: controller snapshots --host ${host.name}`,
        });
      }
      const names = snapshot.artifacts.map((a) => `${a.instance}/${a.name}`);
      const record = snapshot.artifacts.find((a) => `${a.instance}/${a.name}` === values.artifact);
      if (!record) {
        throw new LifeboatError("USAGE", values.artifact ? `Cannot fetch "${values.artifact}": snapshot "${snapshot.id}" has no such artifact` : "controller fetch needs --artifact INSTANCE/NAME", {
          hint: `snapshot ${snapshot.id} holds: ${names.join(", ")}`,
        });
      }
      const toStdout = values.out === "-";
      const out = toStdout ? "" : path.resolve(values.out);
      if (!toStdout && fs.existsSync(out) && !values.force) {
        throw new LifeboatError("USAGE", `Cannot write "${out}": the file exists`, { hint: "pass --force to replace it, or choose another --out" });
      }
      // Opened here, on the controller: no identity leaves it, so the master key may open an old snapshot.
      const { identity } = await identitiesFor(ctx, snapshot, [record], { action: "fetch", on: "the controller", masterKey: true });
      const platform = currentPlatform();
      const destination = await openForReading(ctx, snapshot.destination, host);
      // The stored object is downloaded through its hash check first, then opened: a replaced or
      // damaged object fails as such, before any decompressor sees a byte of it.
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-fetch-"));
      const partial = `${out}.lifeboat-fetch-${process.pid}`;
      try {
        const stored = path.join(scratch, "object.age");
        await platform.writeStream(stored, verified(platform, destination.get(record.key), { sha256: record.sha256, size: record.storedSize }, record.key), 0o600);
        // A chunked artifact's chunks are each checked by their own stored hash as they are read.
        const data = openStoredArtifact(platform, (key) => (key === record.key ? platform.readStream(stored) : destination.get(key)), identity, record);
        if (toStdout) {
          for await (const chunk of data) if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
        } else {
          await platform.writeStream(partial, data, 0o600);
          fs.renameSync(partial, out);
        }
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
        if (!toStdout) fs.rmSync(partial, { force: true });
        await destination.close();
      }
      if (!toStdout) {
        emit(
          globals,
          () => `✔ ${host.name} ${snapshot.id} ${record.instance}/${record.name} → ${out} (${formatBytes(record.plainSize)}, checked against the ledger)`,
          () => ({ type: "fetch", host: host.name, snapshotId: snapshot.id, artifact: `${record.instance}/${record.name}`, file: out, bytes: record.plainSize, sha256: record.sha256 }),
        );
      }
      return EXIT_OK;
    } finally {
      ctx.close();
    }
  },
};
