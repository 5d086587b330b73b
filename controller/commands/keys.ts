/** @module `controller keys`: the keys of the state directory; rotating a host's key; exporting and importing every key. */
import * as fs from "node:fs";
import * as path from "node:path";
import { LifeboatError } from "../../core/errors";
import { listOption, parseCommandArgs, type GlobalOptions } from "../cli-args";
import { ControllerContext } from "../context";
import { BLOB_AREA, HostKeys } from "../host-keys";
import { exportKeys, importKeys, type KeySummary } from "../key-export";
import { loadKeys, statePaths } from "../keys";
import { Ledger } from "../ledger/ledger";
import { table } from "../output/table";
import { emit, type Command } from "./command";

const usage = `usage: controller keys [rotate (--host H[,H2] | --blob-area) | export --out FILE | import FILE] [--json]
Lists the keys of the state directory (--state DIR): the signing key's public half (hosts pin it), the
master recipient, and the age keys: one per host (its snapshots are encrypted to it, to the master
recipient and to the inventory's escrow recipients) and one for the blob area; retired keys are kept
for the snapshots made with them. A restore or verify job carries only the key of the host whose
snapshot it opens (and the blob area's, for blobs), never the master identity.
rotate --host H   retires H's key and makes a new one for its next snapshots (e.g. after H was
                  compromised: its old snapshots stay readable with the retired key, the master and
                  escrow identities).
rotate --blob-area retires the blob area's key: blobs stored from now on are encrypted to a new one
                  (uploaded again, even where the content is stored already), so content stored later
                  is safe from the old key; blobs stored before stay readable with the retired key.
export --out FILE writes every key of the state directory (signing key, master identity, blob naming
                  key, every host and blob-area key, current and retired) to a new file, mode 0600, in
                  the format lifeboat-keys/1 (docs/security.md). It never overwrites a file and prints
                  only public parts. Keep the file offline: anyone holding it can read every snapshot
                  and sign jobs that every host runs.
import FILE       fills the state directory (e.g. of a new controller) from such a file: directories
                  0700, key files 0600; a key already there with the same key is kept; if any file
                  holds a different key, nothing is written. The ledger is not in the export: copy
                  ledger.db from the old controller (or its backup) to list and restore its snapshots;
                  without one, import creates an empty ledger.
With --json: {"type":"keys", signingPublicKey, masterRecipient, "keys":[{name, recipient, created, retired}]};
export: {"type":"keys-exported", file, format, signingPublicKey, masterRecipient, keys};
import: {"type":"keys-imported", stateDir, written, kept, ledger, signingPublicKey, masterRecipient, keys}.
No output ever holds a secret key.`;

const ADVICE = "Keep it offline (not on this controller): anyone holding it can read every snapshot and sign jobs that every host pinned to this controller runs.";

export const keysCommand: Command = {
  name: "keys",
  summary: "list the keys; rotate a host's key; export or import every key",
  usage,
  async run(argv) {
    const { globals, values, positionals } = parseCommandArgs(argv, { host: { type: "string", multiple: true }, "blob-area": { type: "boolean" }, out: { type: "string" } }, usage, 2);
    const [action, operand] = positionals;
    const only = (option: string, given: unknown, forAction: string) => {
      if (given !== undefined && action !== forAction) throw new LifeboatError("USAGE", `Cannot parse the command line: ${option} is an option of "controller keys ${forAction}"`, { hint: usage.split("\n")[0] });
    };
    only("--host", values.host, "rotate");
    only("--blob-area", values["blob-area"], "rotate");
    only("--out", values.out, "export");
    if (operand !== undefined && action !== "import") throw new LifeboatError("USAGE", `Cannot parse the command line: unexpected argument "${operand}"`, { hint: usage.split("\n")[0] });
    switch (action) {
      case undefined:
        return list(globals);
      case "rotate":
        return rotate(globals, values.host, values["blob-area"] === true);
      case "export":
        return exportCommand(globals, values.out);
      case "import":
        return importCommand(globals, operand);
      default:
        throw new LifeboatError("USAGE", `Cannot run "controller keys ${action}": unknown action`, { hint: "actions are rotate, export and import; see controller keys --help" });
    }
  },
};

/** Only the state directory is needed: a new controller can list its keys before it has an inventory. */
async function list(globals: GlobalOptions): Promise<number> {
  const controllerKeys = await loadKeys(globals.state);
  const keys = (await new HostKeys(globals.state).list()).map((k) => ({ name: k.name, recipient: k.recipient, created: k.created, retired: k.retired }));
  emit(
    globals,
    () =>
      [
        `signing key (hosts pin it): ${controllerKeys.publicKey}`,
        `master recipient:           ${controllerKeys.ageRecipient}`,
        "",
        keys.length === 0 ? "no host keys yet: each host gets one at its first backup" : keyTable(keys),
      ].join("\n"),
    () => ({ type: "keys", signingPublicKey: controllerKeys.publicKey, masterRecipient: controllerKeys.ageRecipient, keys }),
  );
  return 0;
}

function keyTable(keys: KeySummary["keys"]): string {
  return table(
    ["NAME", "RECIPIENT", "CREATED", "STATE"],
    keys.map((k) => [k.name === BLOB_AREA ? "(blob area)" : k.name, k.recipient, k.created.slice(0, 19).replace("T", " "), k.retired ? "retired" : "current"]),
  );
}

async function rotate(globals: GlobalOptions, hostOption: string[] | undefined, blobArea: boolean): Promise<number> {
  const hosts = listOption(hostOption) ?? [];
  if (hosts.length === 0 && !blobArea) throw new LifeboatError("USAGE", "controller keys rotate needs --host H or --blob-area", { hint: "usage: controller keys rotate (--host H[,H2] | --blob-area) [--json]" });
  const ctx = await ControllerContext.open(globals);
  try {
    for (const h of hosts) ctx.host(h);
    const rotated: ({ host: string } & Awaited<ReturnType<typeof ctx.hostKeys.rotate>>)[] = [];
    if (blobArea) ctx.ledger.blobs.attributeTo((await ctx.hostKeys.current(BLOB_AREA)).recipient);
    for (const h of [...hosts, ...(blobArea ? [BLOB_AREA] : [])]) rotated.push({ host: h, ...(await ctx.hostKeys.rotate(h)) });
    emit(
      globals,
      () => rotated.map((r) => `${r.host === BLOB_AREA ? "blob area" : r.host}: new key ${r.current.recipient}${r.retired ? ` (retired ${r.retired.recipient}, kept for ${r.host === BLOB_AREA ? "the blobs stored with it" : "its snapshots"})` : ""}`).join("\n"),
      () => ({ type: "keys-rotated", hosts: rotated.map((r) => ({ host: r.host, recipient: r.current.recipient, retired: r.retired?.recipient ?? null })) }),
    );
    return 0;
  } finally {
    ctx.close();
  }
}

async function exportCommand(globals: GlobalOptions, out: string | undefined): Promise<number> {
  if (!out) throw new LifeboatError("USAGE", "controller keys export needs --out FILE", { hint: "usage: controller keys export --out FILE  (a new file: keys never go to stdout)" });
  if (out === "-") throw new LifeboatError("USAGE", "controller keys export: --out - would print the keys; give a file name", { hint: "usage: controller keys export --out FILE" });
  const file = path.resolve(out);
  const summary = await exportKeys(globals.state, file);
  emit(
    globals,
    () =>
      [
        `wrote ${file} (mode 0600, ${summary.format}): the signing key, the master age identity, the blob naming key and ${summary.keys.length} age key${summary.keys.length === 1 ? "" : "s"} of ${globals.state}`,
        `signing key (hosts pin it): ${summary.signingPublicKey}`,
        `master recipient:           ${summary.masterRecipient}`,
        ...(summary.keys.length ? ["", keyTable(summary.keys)] : []),
        "",
        ADVICE,
      ].join("\n"),
    () => ({ type: "keys-exported", ...summary }),
  );
  return 0;
}

async function importCommand(globals: GlobalOptions, operand: string | undefined): Promise<number> {
  if (!operand) throw new LifeboatError("USAGE", "controller keys import needs the export FILE", { hint: "usage: controller keys import FILE --state DIR" });
  const file = path.resolve(operand);
  const result = await importKeys(globals.state, file);
  const ledgerPath = statePaths(globals.state).ledger;
  const ledger = fs.existsSync(ledgerPath) ? "kept" : "created";
  if (ledger === "created") Ledger.open(ledgerPath).close();
  emit(
    globals,
    () =>
      [
        ...result.written.map((f) => `wrote ${f}`),
        ...result.kept.map((f) => `kept ${f} (the same key)`),
        ledger === "created"
          ? `created an empty ledger ${ledgerPath}: to list and restore the old controller's snapshots, copy its ledger.db here (while no controller command runs)`
          : `kept the ledger ${ledgerPath}`,
        "",
        `signing key (hosts pin it): ${result.signingPublicKey}`,
        `master recipient:           ${result.masterRecipient}`,
        ...(result.keys.length ? ["", keyTable(result.keys)] : []),
        "",
        `Imported from ${file}. ${ADVICE.replace("Keep it offline (not on this controller)", "Keep that file offline, and remove any copy from this machine")}`,
      ].join("\n"),
    () => ({ type: "keys-imported", ...result, ledger }),
  );
  return 0;
}
