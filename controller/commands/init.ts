/** @module `controller init`: create the state directory with keys and ledger. */
import { parseCommandArgs } from "../cli-args";
import { initState, statePaths } from "../keys";
import { Ledger } from "../ledger/ledger";
import { emit, type Command } from "./command";

const usage = `usage: controller init [--state DIR] [--json]
Creates the controller's state directory (default ~/.local/state/lifeboat, or $LIFEBOAT_STATE):
an Ed25519 signing key, an age identity and the ledger. Existing keys are never overwritten.`;

export const initCommand: Command = {
  name: "init",
  summary: "create keys and ledger in the state directory; prints the age recipient",
  usage,
  async run(argv) {
    const { globals } = parseCommandArgs(argv, {}, usage);
    const result = await initState(globals.state);
    const ledgerPath = statePaths(globals.state).ledger;
    Ledger.open(ledgerPath).close();
    emit(
      globals,
      () =>
        [
          ...result.created.map((f) => `created ${f}`),
          ...result.kept.map((f) => `kept existing ${f}`),
          `ledger ${ledgerPath}`,
          "",
          `age recipient (backups are encrypted to it): ${result.ageRecipient}`,
          `signing key (hosts pin it at install):      ${result.publicKey}`,
          "",
          `Back up ${statePaths(globals.state).ageIdentity} somewhere safe and offline: without it, no snapshot can be decrypted.`,
          "After the first backups, export every key into one file to keep offline: controller keys export --out FILE",
          "Next: describe your hosts in an inventory (see inventory/example.yaml), then: controller run --host NAME",
        ].join("\n"),
      () => ({ type: "init", stateDir: globals.state, ledger: ledgerPath, ...result }),
    );
    return 0;
  },
};
