/** @module `controller keys`: the age keys of the hosts and the blob area; rotating a host's key. */
import { LifeboatError } from "../../core/errors";
import { listOption, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { BLOB_AREA } from "../host-keys";
import { table } from "../output/table";
import { emit, type Command } from "./command";

const usage = `usage: controller keys [rotate --host H[,H2]] [--json]
Lists the age keys of the state directory: one per host (its snapshots are encrypted to it, to the
master recipient and to the inventory's escrow recipients) and one for the blob area; retired keys
are kept for the snapshots made with them. A restore or verify job carries only the key of the host
whose snapshot it opens (and the blob area's, for blobs), never the master identity.
rotate --host H retires H's key and makes a new one for its next snapshots (e.g. after H was compromised:
its old snapshots stay readable with the retired key, the master and escrow identities).
With --json: {"type":"keys","keys":[{name, recipient, created, retired}]}`;

export const keysCommand: Command = {
  name: "keys",
  summary: "list the hosts' age keys; rotate a host's key",
  usage,
  async run(argv) {
    const { globals, values, positionals } = parseKeysArgs(argv);
    const ctx = await ControllerContext.open(globals);
    try {
      if (positionals[0] === "rotate") {
        const hosts = listOption(values.host);
        if (!hosts?.length) throw new LifeboatError("USAGE", "controller keys rotate needs --host H", { hint: usage.split("\n")[0] });
        for (const h of hosts) ctx.host(h);
        const rotated: ({ host: string } & Awaited<ReturnType<typeof ctx.hostKeys.rotate>>)[] = [];
        for (const h of hosts) rotated.push({ host: h, ...(await ctx.hostKeys.rotate(h)) });
        emit(
          globals,
          () => rotated.map((r) => `${r.host}: new key ${r.current.recipient}${r.retired ? ` (retired ${r.retired.recipient}, kept for its snapshots)` : ""}`).join("\n"),
          () => ({ type: "keys-rotated", hosts: rotated.map((r) => ({ host: r.host, recipient: r.current.recipient, retired: r.retired?.recipient ?? null })) }),
        );
        return 0;
      }
      if (positionals.length > 0) throw new LifeboatError("USAGE", `controller keys: unknown action "${positionals[0]}"`, { hint: usage.split("\n")[0] });
      const keys = (await ctx.hostKeys.list()).map((k) => ({ name: k.name, recipient: k.recipient, created: k.created, retired: k.retired }));
      emit(
        globals,
        () =>
          keys.length === 0
            ? "no host keys yet: each host gets one at its first backup"
            : table(
                ["NAME", "RECIPIENT", "CREATED", "STATE"],
                keys.map((k) => [k.name === BLOB_AREA ? "(blob area)" : k.name, k.recipient, k.created.slice(0, 19).replace("T", " "), k.retired ? "retired" : "current"]),
              ),
        () => ({ type: "keys", keys }),
      );
      return 0;
    } finally {
      ctx.close();
    }
  },
};

function parseKeysArgs(argv: string[]) {
  const action = argv[0] && !argv[0].startsWith("-") ? [argv[0]] : [];
  const parsed = parseCommandArgs(argv.slice(action.length), { host: { type: "string", multiple: true } }, usage);
  return { ...parsed, positionals: action };
}
