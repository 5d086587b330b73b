/** @module `controller snapshots`: what is stored, when, how big. */
import { listOption, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { formatAge, formatBytes } from "../output/format";
import { table } from "../output/table";
import { emit, type Command } from "./command";

const usage = `usage: controller snapshots [--host H[,H2]] [--json]
Lists the snapshots in the ledger, newest first. Only "complete" snapshots (manifest stored) count as backups.
With --json: {"type":"snapshots","snapshots":[{id, host, status, startedAt, finishedAt, destination,
manifestKey, plainSize, storedSize, artifacts:[{plugin, instance, name, key, plainSize, storedSize, sha256, compression, metadata}]}]}`;

export const snapshotsCommand: Command = {
  name: "snapshots",
  summary: "list stored snapshots (what, when, how big)",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(argv, { host: { type: "string", multiple: true } }, usage);
    const ctx = await ControllerContext.open(globals);
    try {
      const hosts = listOption(values.host);
      for (const h of hosts ?? []) ctx.host(h);
      const snapshots = ctx.ledger.listSnapshots({}).filter((s) => !hosts || hosts.includes(s.host));
      emit(
        globals,
        () =>
          snapshots.length === 0
            ? "no snapshots yet: run `controller run --host NAME`"
            : table(
                ["HOST", "SNAPSHOT", "STATUS", "FINISHED", "AGE", "SIZE", "STORED", "ARTIFACTS"],
                snapshots.map((s) => [
                  s.host,
                  s.id,
                  s.status,
                  s.finishedAt ? s.finishedAt.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-",
                  s.finishedAt ? formatAge(s.finishedAt) : "-",
                  formatBytes(s.plainSize),
                  formatBytes(s.storedSize),
                  s.artifacts.map((a) => `${a.instance}/${a.name}`).join(", ") || "-",
                ]),
              ),
        () => ({ type: "snapshots", snapshots }),
      );
      return 0;
    } finally {
      ctx.close();
    }
  },
};
