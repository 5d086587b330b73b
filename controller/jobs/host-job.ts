/** @module One job on one host: connect, install or upgrade the agent, send the signed spec, follow its events. */
import type { AgentEvent } from "../../core/events";
import { isLifeboatError, messageOf, redact } from "../../core/errors";
import type { JobSpec } from "../../core/spec";
import type { HostConfig } from "../../inventory/schema";
import { describePush, ensureAgent } from "../ssh/install-agent";
import { runAgentJob } from "../ssh/run-agent-job";
import type { ControllerKeys } from "../keys";
import type { HostOutcome, Reporter } from "../output/reporter";
import { signSpec } from "./sign-spec";
import { connectSsh } from "../ssh/connect";
import { sshTargetFor } from "../ssh/target";

/** What a host job needs from the controller. */
export interface HostJobEnv {
  keys: ControllerKeys;
  reporter: Reporter;
  acceptNewHostKey: boolean;
  /** Values to strip from anything shown or stored. */
  secrets: string[];
  /**
   * Aborting stops the job: the agent is sent SIGTERM and its stdin closes (its
   * lifeline stops the job, aborting uploads); the outcome fails with the reason
   * (INTERRUPTED), so nothing of the job looks complete.
   */
  signal?: AbortSignal;
}

/**
 * Runs `spec` on `host` and returns the outcome; never throws. `onEvent`
 * sees every agent event (to record it in the ledger) before the reporter does.
 * Progress names `host`, where the job runs; the outcome names `snapshotHost`
 * (the host whose snapshot a restore reads, default `host`).
 */
export async function runHostJob(env: HostJobEnv, host: HostConfig, spec: JobSpec, onEvent: (event: AgentEvent) => void, snapshotHost = host.name): Promise<HostOutcome> {
  const began = Date.now();
  const label = host.name;
  const outcome: HostOutcome = {
    host: snapshotHost,
    kind: spec.kind,
    status: "failed",
    snapshotId: spec.snapshotId,
    artifacts: 0,
    plainBytes: 0,
    storedBytes: 0,
    durationMs: 0,
    errors: [],
    warnings: [],
    restored: [],
    checks: [],
  };
  const secrets = [...env.secrets, env.keys.ageIdentity];
  const clean = (s: string) => redact(s, secrets);
  const follow = (event: AgentEvent) => {
    onEvent(event);
    if (event.type === "artifact") {
      outcome.artifacts++;
      outcome.plainBytes += event.plainSize;
      outcome.storedBytes += event.storedSize;
    } else if (event.type === "chunks") {
      // What the run added to storage: a chunked artifact's object is its index, its data the chunks it uploaded.
      for (const chunk of event.uploaded) outcome.storedBytes += chunk.stored.size;
    } else if (event.type === "warning") {
      outcome.warnings.push(clean(event.plugin ? `[${event.plugin}] ${event.message}` : event.message));
    } else if (event.type === "error") {
      outcome.errors.push({ code: event.code, message: clean(event.message), ...(event.hint ? { hint: clean(event.hint) } : {}), ...(event.plugin ? { plugin: event.plugin } : {}) });
    } else if (event.type === "plugin-done" && event.restored) {
      outcome.restored.push(...event.restored.map((r) => `${event.plugin}: ${r}`));
    }
    if (event.type === "plugin-done" && event.checks) outcome.checks.push(...event.checks.map((c) => `${event.plugin}: ${c}`));
    env.reporter.event(label, event);
  };

  let conn: Awaited<ReturnType<typeof connectSsh>> | undefined;
  try {
    env.reporter.step(label, `connecting to ${host.ssh.user}@${host.ssh.hostname}:${host.ssh.port}`);
    env.signal?.throwIfAborted();
    conn = await connectSsh(sshTargetFor(host, env.acceptNewHostKey));
    env.signal?.throwIfAborted();
    const agent = await ensureAgent(conn, host, env.keys);
    if (agent.pushed) env.reporter.step(label, describePush(agent.pushed));
    if (agent.installed) env.reporter.step(label, `agent ${agent.reason} (${agent.runtimeVersion})`);
    env.signal?.throwIfAborted();
    const result = await runAgentJob(conn, host, agent.runtime, signSpec(spec, env.keys.signingKey), follow, (line) => outcome.warnings.push(clean(`agent: ${line}`)), env.signal);
    if (result.done) {
      outcome.status = result.done.status;
    } else if (outcome.errors.length === 0) {
      const tail = clean(result.log.trim().split("\n").slice(-5).join("\n"));
      outcome.errors.push({ code: "INTERNAL", message: `The agent on "${host.name}" exited with code ${result.exitCode} without finishing: ${tail || "no output"}` });
    }
  } catch (thrown) {
    // Stopped on purpose: the reason (INTERRUPTED) says why, not the cancelled SSH command.
    const err = env.signal?.aborted ? env.signal.reason : thrown;
    outcome.errors.push({
      code: isLifeboatError(err) ? err.code : "INTERNAL",
      message: clean(messageOf(err)),
      ...(isLifeboatError(err) && err.hint ? { hint: clean(err.hint) } : {}),
    });
  } finally {
    conn?.close();
  }
  outcome.durationMs = Date.now() - began;
  if (outcome.errors[0]) outcome.error = outcome.errors[0];
  return outcome;
}
