/**
 * @module Client authentication for one connection: ssh-agent first (when
 * enabled and SSH_AUTH_SOCK is set), then the identity files, in the order
 * OpenSSH uses; remembers what was tried so failures can say so (no secrets).
 */
import * as fs from "node:fs";
import ssh2, { type AnyAuthMethod, type AuthHandlerMiddleware } from "ssh2";
import { LifeboatError, messageOf } from "../../core/errors";

/** What authentication needs to know about the connection. */
export interface AuthSettings {
  /** The inventory name, for messages. */
  host: string;
  user: string;
  identityFiles: string[];
  useAgent: boolean;
}

/** The methods to offer, and a record of what happened to each. */
export interface AuthPlan {
  /** For ssh2's `authHandler`. */
  handler: AuthHandlerMiddleware;
  /** Human-readable: what was tried and what was skipped, e.g. `ssh-agent (/run/agent.sock), identity file ~/.ssh/id_ed25519`. */
  describe(): string;
  /** Called with ssh2 errors of level "agent": the agent failed, other methods go on. */
  noteAgentError(err: Error): void;
}

function isEncrypted(err: Error): boolean {
  return /encrypted|passphrase|bad decrypt/i.test(err.message);
}

/**
 * Prepares authentication. Missing identity files are skipped (and mentioned
 * on failure), as OpenSSH does with its defaults. A passphrase-protected
 * identity file is skipped when ssh-agent is in use (its key is expected to be
 * loaded there) and is an error otherwise.
 * @throws LifeboatError("SSH") for an unreadable or unparsable identity file, a
 *   passphrase-protected one without ssh-agent, or when no method is left.
 */
export function planAuthentication(settings: AuthSettings, env: NodeJS.ProcessEnv = process.env): AuthPlan {
  const methods: { label: string; method: AnyAuthMethod }[] = [];
  const skipped: string[] = [];
  const agentSock = settings.useAgent ? env.SSH_AUTH_SOCK : undefined;
  if (agentSock) methods.push({ label: `ssh-agent (${agentSock})`, method: { type: "agent", username: settings.user, agent: agentSock } });
  else if (settings.useAgent) skipped.push("ssh-agent (SSH_AUTH_SOCK is not set)");

  for (const file of settings.identityFiles) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        skipped.push(`identity file ${file} (missing)`);
        continue;
      }
      throw new LifeboatError("SSH", `Cannot read identity file "${file}" for "${settings.host}": ${messageOf(err)}`, {
        hint: "make the file readable by the user running the controller (it should be mode 0600)",
        cause: err,
      });
    }
    const key = ssh2.utils.parseKey(bytes);
    if (key instanceof Error) {
      if (isEncrypted(key) && agentSock) {
        skipped.push(`identity file ${file} (passphrase-protected: expected in ssh-agent)`);
        continue;
      }
      throw new LifeboatError(
        "SSH",
        `Cannot use identity file "${file}" for "${settings.host}": ${isEncrypted(key) ? "it is protected by a passphrase" : `it is not a private key Lifeboat can read (${key.message})`}`,
        { hint: isEncrypted(key) ? `load it into ssh-agent (ssh-add ${file}) and keep ssh.useAgent on` : "point ssh.identityFile at an OpenSSH or PEM private key" },
      );
    }
    if (!key.isPrivateKey()) {
      throw new LifeboatError("SSH", `Cannot use identity file "${file}" for "${settings.host}": it holds a public key, not a private key`, {
        hint: "point ssh.identityFile at the private key (the file without .pub)",
      });
    }
    methods.push({ label: `identity file ${file}`, method: { type: "publickey", username: settings.user, key } });
  }

  if (methods.length === 0) {
    throw new LifeboatError("SSH", `Cannot connect to "${settings.host}": no SSH key to log in with${skipped.length ? ` (skipped: ${skipped.join(", ")})` : ""}`, {
      hint: "set ssh.identityFile in the inventory, or start ssh-agent (SSH_AUTH_SOCK) and ssh-add a key",
    });
  }

  const tried: string[] = [];
  const agentErrors: string[] = [];
  let serverOffers: string[] | undefined;
  let next = 0;
  const handler: AuthHandlerMiddleware = (authsLeft, _partialSuccess, callback) => {
    if (authsLeft) serverOffers = authsLeft;
    while (next < methods.length) {
      const candidate = methods[next++]!;
      // ssh2 names agent auth "agent"; the server only knows "publickey".
      if (serverOffers && !serverOffers.includes("publickey")) break;
      tried.push(candidate.label);
      callback(candidate.method);
      return;
    }
    callback(false as unknown as AnyAuthMethod); // ssh2: false = no more methods
  };
  return {
    handler,
    noteAgentError: (err) => agentErrors.push(messageOf(err)),
    describe() {
      const parts = [`tried ${tried.length ? tried.join(", ") : "nothing"}`];
      if (agentErrors.length) parts.push(`ssh-agent failed: ${agentErrors.join("; ")}`);
      if (skipped.length) parts.push(`skipped ${skipped.join(", ")}`);
      if (serverOffers && !serverOffers.includes("publickey")) parts.push(`the server offers only: ${serverOffers.join(", ") || "nothing"}`);
      return parts.join("; ");
    },
  };
}
