/** @module `controller snapshots`: what is stored, when, how big. */
import { listOption, parseCommandArgs } from "../cli-args";
import { operatorWarnings } from "../../plugins/registry";
import { ControllerContext } from "../context";
import { formatAge, formatBytes, formatDuration } from "../output/format";
import { table } from "../output/table";
import { emit, type Command } from "./command";

const usage = `usage: controller snapshots [--host H[,H2]] [--json]
Lists the snapshots in the ledger, newest first. Only "complete" snapshots (manifest stored) count as backups.
With --json: {"type":"snapshots","snapshots":[{id, host, status, startedAt, finishedAt, destination,
manifestKey, damage, rehash, plainSize, storedSize, warnings, verification:{level, result, time, details}|null,
restoreTime:{kind, onHost, durationMs, time}|null (the newest measured restore or drill of it: RESTORED IN), artifacts:[{plugin, instance, name, key, plainSize, storedSize, sha256, compression, metadata,
chunks?:{count, uploaded, uploadedBytes, reusedBytes}}]}]} (chunks: of a chunked artifact; rehash: every file was read again;
a snapshot's storedSize, the ADDED column: what it added to storage, its objects and the chunks it uploaded, not those it reused)
warnings lists certificates (letsencrypt plugin) that expire within 14 days (the plugin's warnDays).`;

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
      const restoreTimes = new Map([...new Set(snapshots.map((s) => s.host))].map((h) => [h, ctx.ledger.operations.restoreTimesBySnapshot(h)]));
      const withWarnings = snapshots.map((s) => ({ ...s, warnings: operatorWarnings(s.artifacts), restoreTime: restoreTimes.get(s.host)!.get(s.id) ?? null }));
      // A host's certificate warnings matter for its newest complete snapshot.
      const latest = new Map<string, (typeof withWarnings)[number]>();
      for (const s of withWarnings) if (s.status === "complete" && !s.damage && !latest.has(s.host)) latest.set(s.host, s);
      const warningLines = [...latest.values()].flatMap((s) => s.warnings.map((w) => `warning: ${s.host} ${s.id}: ${w}`));
      emit(
        globals,
        () =>
          snapshots.length === 0
            ? "no snapshots yet: run `controller run --host NAME`"
            : table(
                ["HOST", "SNAPSHOT", "STATUS", "FINISHED", "AGE", "SIZE", "ADDED", "VERIFIED", "RESTORED IN", "ARTIFACTS"],
                withWarnings.map((s) => [
                  s.host,
                  s.id,
                  s.damage ? "DAMAGED" : s.status,
                  s.finishedAt ? s.finishedAt.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-",
                  s.finishedAt ? formatAge(s.finishedAt) : "-",
                  formatBytes(s.plainSize),
                  formatBytes(s.storedSize),
                  s.verification ? `${s.verification.result === "ok" ? "ok" : "FAILED"} ${formatAge(s.verification.time)}` : "never",
                  s.restoreTime ? `${formatDuration(s.restoreTime.durationMs)}${s.restoreTime.kind === "drill" ? " (drill)" : ""}` : "-",
                  s.artifacts.map((a) => `${a.instance}/${a.name}`).join(", ") || "-",
                ]),
              ) + (warningLines.length ? `\n\n${warningLines.join("\n")}` : ""),
        () => ({ type: "snapshots", snapshots: withWarnings }),
      );
      return 0;
    } finally {
      ctx.close();
    }
  },
};
