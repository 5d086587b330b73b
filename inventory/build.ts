/** @module From parsed YAML to a validated {@link Inventory}; errors are `field.path: problem` (the loader adds file:line). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isRecipient } from "../core/age-keys";
import { readAlerts, readOperationFields, resolveOperations, type OperationFields } from "./operations";
import { destinationSecrets, readConfiguredDestination, withHostFields } from "../core/storage/destinations/registry";
import { isLifeboatError, LifeboatError } from "../core/errors";
import { describe, FieldReader } from "../core/validate";
import type { DestinationConfig, HostConfig, Inventory, PluginInstance, SshSettings } from "./schema";
import { PRESETS } from "./presets";
import { resolveSshAlias } from "./ssh-config";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface BuildContext {
  file: string;
  secrets: Set<string>;
  homedir: string;
  sshConfigFile?: string;
  validatePlugin?: (plugin: string, raw: unknown, where: string) => void;
}

interface SshDefaults {
  user?: string;
  port?: number;
  identityFiles: string[];
  knownHostsFiles: string[];
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  useAgent?: boolean;
}

function expandHome(p: string, home: string): string {
  return p === "~" ? home : p.startsWith("~/") ? path.join(home, p.slice(2)) : p;
}

/** Reads an ssh settings mapping (defaults.ssh or hosts.X.ssh). */
function sshFields(r: FieldReader, home: string): SshDefaults & { host?: string } {
  const identityFiles = [...r.stringList("identityFiles", { optional: true })];
  const single = r.string("identityFile", true);
  if (single) identityFiles.unshift(single);
  const known = r.string("knownHostsFile", true);
  const port = r.number("port", true);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw r.fail("port", `expected a port number 1-65535, got ${port}`);
  const useAgent = r.value("useAgent");
  if (useAgent !== undefined && typeof useAgent !== "boolean") throw r.fail("useAgent", `expected true or false, got ${describe(useAgent)}`);
  const fields = {
    host: r.string("host", true),
    user: r.string("user", true),
    port,
    identityFiles: identityFiles.map((f) => expandHome(f, home)),
    knownHostsFiles: known ? [expandHome(known, home)] : [],
    connectTimeoutMs: r.duration("connectTimeout"),
    idleTimeoutMs: r.duration("idleTimeout"),
    useAgent: useAgent as boolean | undefined,
  };
  r.rejectUnknown();
  return fields;
}

function defaultIdentityFiles(home: string): string[] {
  return ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => path.join(home, ".ssh", n)).filter((f) => fs.existsSync(f));
}

/** Validates the parsed document and resolves every host's SSH settings. */
export function buildInventory(raw: unknown, ctx: BuildContext): Inventory {
  const top = FieldReader.of(raw, "inventory");
  const home = ctx.homedir;

  const destinations = new Map<string, DestinationConfig>();
  const rawDestinations = top.value("destinations");
  if (rawDestinations !== undefined) {
    const dr = FieldReader.of(rawDestinations, "destinations");
    for (const name of dr.keys()) {
      if (!NAME.test(name)) throw dr.fail(name, "destination names are letters, digits, '.', '_' and '-'");
      const d = readConfiguredDestination(FieldReader.of(dr.value(name), `destinations.${name}`));
      for (const secret of destinationSecrets(d)) if (secret) ctx.secrets.add(secret);
      destinations.set(name, d);
    }
  }

  const recipients = top.stringList("recipients", { optional: true });
  recipients.forEach((rcp, i) => {
    if (!isRecipient(rcp)) throw top.fail(`recipients[${i}]`, `expected an age recipient (age1...), got ${describe(rcp)}`);
  });

  let defaultDestination: string | undefined;
  let sshDefaults: SshDefaults = { identityFiles: [], knownHostsFiles: [] };
  let agentDir = "~/.lifeboat";
  let runtime = "auto";
  let operationDefaults: OperationFields = {};
  const rawDefaults = top.value("defaults");
  if (rawDefaults !== undefined) {
    const d = FieldReader.of(rawDefaults, "defaults");
    operationDefaults = readOperationFields(d);
    defaultDestination = d.string("destination", true);
    if (d.value("ssh") !== undefined) sshDefaults = sshFields(FieldReader.of(d.value("ssh"), "defaults.ssh"), home);
    agentDir = d.string("agentDir", true) ?? agentDir;
    runtime = d.string("runtime", true) ?? runtime;
    d.rejectUnknown();
    if (defaultDestination && !destinations.has(defaultDestination)) throw d.fail("destination", `no destination "${defaultDestination}" under destinations:`);
  }

  const hosts = new Map<string, HostConfig>();
  const rawHosts = top.value("hosts");
  const hr = rawHosts === undefined ? undefined : FieldReader.of(rawHosts, "hosts");
  for (const name of hr?.keys() ?? []) {
    if (!NAME.test(name)) throw hr!.fail(name, "host names are letters, digits, '.', '_' and '-', starting with a letter or digit");
    // A host's snapshots go under <prefix>/<host>/: this name is the fleet's shared blob area.
    if (name === "blobs") throw hr!.fail(name, `"blobs" is the name of the fleet's blob area in storage`, "give the host another name");
    const where = `hosts.${name}`;
    const h = FieldReader.of(hr!.value(name), where);
    const rawSsh = h.value("ssh");
    let alias = name;
    let explicit: SshDefaults & { host?: string } = { identityFiles: [], knownHostsFiles: [] };
    if (typeof rawSsh === "string") alias = rawSsh;
    else if (rawSsh !== undefined) explicit = sshFields(FieldReader.of(rawSsh, `${where}.ssh`), home);
    const fromConfig = explicit.host ? { identityFiles: [] as string[] } : resolveSshAlias(alias, { file: ctx.sshConfigFile, homedir: home });
    const cfg = fromConfig as ReturnType<typeof resolveSshAlias>;
    const identityFiles = [...explicit.identityFiles, ...cfg.identityFiles, ...sshDefaults.identityFiles];
    const ssh: SshSettings = {
      hostname: explicit.host ?? cfg.hostname ?? alias,
      port: explicit.port ?? cfg.port ?? sshDefaults.port ?? 22,
      user: explicit.user ?? cfg.user ?? sshDefaults.user ?? os.userInfo().username,
      identityFiles: identityFiles.length > 0 ? [...new Set(identityFiles)] : defaultIdentityFiles(home),
      knownHostsFiles: explicit.knownHostsFiles.length ? explicit.knownHostsFiles : (cfg.userKnownHostsFiles ?? (sshDefaults.knownHostsFiles.length ? sshDefaults.knownHostsFiles : [path.join(home, ".ssh", "known_hosts")])),
      useAgent: explicit.useAgent ?? sshDefaults.useAgent ?? true,
      connectTimeoutMs: explicit.connectTimeoutMs ?? (cfg.connectTimeoutSec ? cfg.connectTimeoutSec * 1000 : undefined) ?? sshDefaults.connectTimeoutMs ?? 15_000,
      idleTimeoutMs: explicit.idleTimeoutMs ?? sshDefaults.idleTimeoutMs ?? 300_000,
    };
    const dest = h.string("destination", true) ?? defaultDestination;
    if (!dest) throw h.fail("destination", "no destination for this host", "set destination: here or defaults.destination");
    if (!destinations.has(dest)) throw h.fail("destination", `no destination "${dest}" under destinations:`, `known destinations: ${[...destinations.keys()].join(", ") || "none"}`);
    const rawStorage = h.value("storage");
    let ownStorage: DestinationConfig | undefined;
    if (rawStorage !== undefined) {
      const fields = FieldReader.of(rawStorage, `${where}.storage`);
      ownStorage = withHostFields(destinations.get(dest)!, Object.fromEntries(fields.keys().map((k) => [k, fields.value(k)])), `${where}.storage`);
      for (const secret of destinationSecrets(ownStorage)) if (secret) ctx.secrets.add(secret);
    }
    const plugins: PluginInstance[] = [];
    const add = (instance: string, plugin: string, config: unknown, pWhere: string) => {
      if (plugins.some((p) => p.instance === instance)) throw new LifeboatError("CONFIG", `${pWhere}: plugin instance "${instance}" is defined twice on this host`);
      try {
        ctx.validatePlugin?.(plugin, config, pWhere);
      } catch (err) {
        if (isLifeboatError(err) && !err.message.startsWith(pWhere)) {
          throw new LifeboatError("CONFIG", `${pWhere}: ${err.message}`, err.hint ? { hint: err.hint } : {});
        }
        throw err;
      }
      plugins.push({ instance, plugin, config, where: pWhere });
    };
    const rawPlugins = h.value("plugins");
    if (rawPlugins !== undefined) {
      const pr = FieldReader.of(rawPlugins, `${where}.plugins`);
      for (const instance of pr.keys()) {
        if (!NAME.test(instance)) throw pr.fail(instance, "plugin instance names are letters, digits, '.', '_' and '-'");
        const pWhere = `${where}.plugins.${instance}`;
        const body = FieldReader.of(pr.value(instance) ?? {}, pWhere);
        const { plugin: _drop, ...config } = (pr.value(instance) ?? {}) as Record<string, unknown>;
        add(instance, body.string("plugin", true) ?? instance, config, pWhere);
      }
    }
    const rawPresets = h.value("presets");
    if (rawPresets !== undefined) {
      const sr = FieldReader.of(rawPresets, `${where}.presets`);
      for (const name of sr.keys()) {
        const preset = PRESETS[name];
        if (!preset) throw sr.fail(name, `no such preset`, `known presets: ${Object.keys(PRESETS).join(", ")}`);
        const pr = FieldReader.of(sr.value(name), `${where}.presets.${name}`);
        for (const p of preset(pr, name)) add(p.instance, p.plugin, p.config, `${where}.presets.${name}`);
        pr.rejectUnknown();
      }
    }
    hosts.set(name, { name, ssh, destination: dest, agentDir: h.string("agentDir", true) ?? agentDir, runtime: h.string("runtime", true) ?? runtime, plugins, operations: resolveOperations(operationDefaults, readOperationFields(h)), ...(ownStorage ? { ownStorage } : {}) });
    h.rejectUnknown();
  }

  const groups = new Map<string, string[]>();
  const rawGroups = top.value("groups");
  if (rawGroups !== undefined) {
    const gr = FieldReader.of(rawGroups, "groups");
    for (const name of gr.keys()) {
      if (hosts.has(name)) throw gr.fail(name, `a group cannot have the name of host "${name}"`);
      const members = gr.stringList(name);
      members.forEach((m, i) => {
        if (!hosts.has(m)) throw gr.fail(`${name}[${i}]`, `no host "${m}" under hosts:`);
      });
      groups.set(name, members);
    }
  }
  const alerts = readAlerts(top.value("alerts"), new Set(hosts.keys()));
  for (const notifier of alerts) {
    // Webhook URLs carry their token: never printed, like a credential.
    ctx.secrets.add(notifier.url);
    for (const value of Object.values(notifier.headers)) ctx.secrets.add(value);
  }
  top.rejectUnknown();
  const secrets = ctx.secrets;
  return { file: ctx.file, hosts, groups, destinations, recipients, alerts, secrets: () => [...secrets] };
}
