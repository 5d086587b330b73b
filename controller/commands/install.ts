/** @module `controller install`: install or upgrade the agent and pin this controller's key on hosts. */
import { isLifeboatError, messageOf, redact } from "../../core/errors";
import { selectHosts } from "../../inventory/resolve";
import { describePush, ensureAgent } from "../ssh/install-agent";
import { hostOptions, hostSelection, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { forEachConcurrent } from "../jobs/pool";
import { connectSsh } from "../ssh/connect";
import { sshTargetFor } from "../ssh/target";
import { emit, type Command } from "./command";

const usage = `usage: controller install (--host H[,H2] | --group G | --all) [--force] [--take-over] [--accept-new-host-key] [--json]
Uploads the agent bundle over SFTP to each host's agent directory (default ~/.lifeboat) and pins
this controller's public key and the host's inventory name there (pinned.json). \`controller run\`
does the same automatically when needed. A host pinned to another controller's key, or under another
inventory name, is refused — except a machine that a restore of the host's snapshot was run on
(controller restore --from H --to NEW): after pointing H's inventory entry at NEW's address,
\`controller install --host H\` re-pins that machine as H, and H's history, schedule and retention go on.
--take-over   re-pins such a host to this controller's key and this inventory name, and prints the
              key it was pinned to before and the new one: for a new controller whose old signing key
              is lost (with the old keys, import them instead: controller keys import FILE). The SSH
              login, checked against known_hosts, is the authority; the agent's replay journal is kept.
Each host runs the agent with the inventory's runtime: (default auto: Node.js >= 20 or Deno >= 2 from
the host's PATH, else the Deno binary this controller carries, pushed to <agentDir>/runtime/deno);
the line says which.
With --json: one {"type":"install", host, installed, reason, runtime: {command, kind, version, pushed},
runtimeVersion, pushed?, takenOver?} per host.`;

export const installCommand: Command = {
  name: "install",
  summary: "install or upgrade the agent on hosts and pin the controller key",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(
      argv,
      { ...hostOptions, force: { type: "boolean" }, "take-over": { type: "boolean" } },
      usage,
    );
    const ctx = await ControllerContext.open(globals);
    let failures = 0;
    try {
      const hosts = selectHosts(ctx.inventory, hostSelection(values));
      await forEachConcurrent(hosts, 8, async (host) => {
        try {
          const conn = await connectSsh(sshTargetFor(host, values["accept-new-host-key"] === true));
          try {
            // A machine rebuilt from this host's snapshot (restore --to NEW) may become this host.
            const adoptFrom = new Map([...ctx.ledger.operations.restoredOnto(host.name)].map(([on, r]) => [on, `it was rebuilt from "${host.name}"'s snapshot ${r.snapshotId} (${r.time.slice(0, 16).replace("T", " ")} UTC)`]));
            const status = await ensureAgent(conn, host, ctx.keys, { force: values.force === true, takeOver: values["take-over"] === true, adoptFrom });
            const t = status.takenOver;
            emit(
              globals,
              () =>
                `✔ ${host.name}  ${status.installed ? `agent ${status.reason}` : "agent up to date"}  (runtime ${status.runtimeVersion}: ${status.runtime.pushed ? `pushed by this controller to ${status.runtime.command}` : status.runtime.command})` +
                (status.pushed ? `\n    ${describePush(status.pushed)}` : "") +
                (status.adopted ? `\n    the machine was pinned as "${status.adopted.from}": now it is "${host.name}" (${status.adopted.because})` : "") +
                (t ? `\n    was pinned to controller key ${t.from.controllerKey}${t.from.host ? ` as "${t.from.host}"` : ""}\n    now pinned to controller key ${t.to.controllerKey} as "${t.to.host}"` : ""),
              () => ({ type: "install", host: host.name, ...status }),
            );
          } finally {
            conn.close();
          }
        } catch (err) {
          failures++;
          const message = redact(messageOf(err), ctx.secrets);
          const hint = isLifeboatError(err) ? err.hint : undefined;
          emit(
            globals,
            () => `✘ ${host.name}  ${message}${hint ? `\n    hint: ${hint}` : ""}`,
            () => ({ type: "install", host: host.name, installed: false, error: { code: isLifeboatError(err) ? err.code : "INTERNAL", message, hint } }),
          );
        }
      });
    } finally {
      ctx.close();
    }
    return failures === 0 ? EXIT_OK : EXIT_JOB_FAILED;
  },
};
