// Loading inventories: errors with file, line and field; ssh config aliases; interpolation.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { validatePluginConfig as validatePlugin } from "../plugins/registry";
import { splitHooks } from "../core/hooks";
import { loadInventory } from "./load";
import { selectHosts } from "./resolve";
import { resolveSshAlias } from "./ssh-config";


describe("inventory", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-inv-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function load(text: string, env: Record<string, string> = {}) {
    const file = path.join(dir, "fleet.yaml");
    fs.writeFileSync(file, text);
    return { file, load: () => loadInventory(file, { env, homedir: dir, sshConfigFile: path.join(dir, "ssh_config"), validatePlugin }) };
  }

  const base = ["destinations:", "  usb: { type: local, path: /mnt/usb }", "hosts:", "  web:", "    ssh: { host: 10.0.0.1 }", "    destination: usb"];

  const cases: [string, string[], number, string][] = [
    ["a wrong type in a plugin", [...base, "    plugins:", "      files:", "        paths: data"], 9, "hosts.web.plugins.files.paths: expected a list of strings"],
    ["a relative plugin path", [...base, "    plugins:", "      files:", "        paths: [/ok, rel]"], 9, 'hosts.web.plugins.files.paths[1]: must be an absolute path, got "rel"'],
    ["an unknown field", [...base, "    destinaton: usb"], 7, "hosts.web.destinaton: unknown field"],
    ["a missing destination", ["destinations:", "  usb: { type: local, path: /mnt/usb }", "hosts:", "  web:", "    ssh: { host: a }", "    destination: b2"], 6, 'hosts.web.destination: no destination "b2"'],
    ["an unknown plugin", [...base, "    plugins:", "      nope: {}"], 8, 'hosts.web.plugins.nope: Cannot use plugin "nope"'],
    ["a group member that is no host", [...base, "groups:", "  ai: [web, ghost]"], 8, 'groups.ai[1]: no host "ghost"'],
    ["an S3 destination without a bucket", ["destinations:", "  s3:", "    type: s3", "    accessKeyId: a", "    secretAccessKey: b", "hosts: {}"], 3, "destinations.s3.bucket"],
    ["an unset environment variable", ["destinations:", "  s3: { type: s3, bucket: b, accessKeyId: a, secretAccessKey: '${B2_SECRET}' }"], 2, "environment variable B2_SECRET is not set"],
    ["a hook that is not a command", [...base, "    plugins:", "      files:", "        paths: [/a]", "        hooks: { before: 3 }"], 10, "hosts.web.plugins.files.hooks.before: expected a command or a list of commands"],
    ["invalid YAML", ["hosts:", "  web: [unclosed"], 3, "invalid YAML"],
    ["a schedule that is no cron expression", [...base, "    schedule: every night"], 7, "hosts.web.schedule: not a cron expression"],
    ["an unknown time zone", ["defaults:", "  timezone: Mars/Olympus", ...base], 2, 'defaults.timezone: unknown time zone "Mars/Olympus"'],
    ["a retention that keeps nothing", [...base, "    retention: { keepDaily: 0 }"], 7, "hosts.web.retention.keepLast: a retention policy that keeps nothing"],
    ["a retention count that is no whole number", [...base, "    retention: { keepDaily: 2.5 }"], 7, "hosts.web.retention.keepDaily: expected a whole number"],
    ["an unknown alert event", [...base, "alerts:", "  - { type: ntfy, url: 'https://ntfy.sh/x', events: [fire] }"], 8, 'alerts[0].events[0]: unknown event "fire"'],
    ["a host named like the blob area", ["destinations:", "  usb: { type: local, path: /mnt/usb }", "hosts:", "  blobs:", "    ssh: { host: 10.0.0.1 }", "    destination: usb"], 5, 'hosts.blobs: "blobs" is the name of the fleet\'s blob area in storage'],
    ["per-host storage on a local destination", [...base, "    storage: { accessKeyId: a }"], 7, "hosts.web.storage.accessKeyId: a local destination has no per-host settings"],
    ["a destination type only the controller issues", ["destinations:", "  links: { type: presigned, of: x, expiresAt: '2030-01-01T00:00:00Z', objects: {} }"], 2, 'destinations.links.type: expected one of'],
    ["a link expiry beyond S3's limit", ["destinations:", "  s3: { type: s3, bucket: b, accessKeyId: a, secretAccessKey: c, linkExpiry: 30d }"], 2, "destinations.s3.linkExpiry: expected a duration between 1m and 7d"],
  ];
  it("runs the agent with runtime auto unless the defaults or the host pin one", () => {
    const { load: read } = load([...base, "  db:", "    ssh: { host: 10.0.0.2 }", "    destination: usb", "    runtime: /opt/rt/d2"].join("\n"));
    const inventory = read();
    expect([inventory.hosts.get("web")!.runtime, inventory.hosts.get("db")!.runtime]).toEqual(["auto", "/opt/rt/d2"]);
    const { load: pinned } = load(["defaults:", "  runtime: deno", ...base].join("\n"));
    expect(pinned().hosts.get("web")!.runtime).toBe("deno");
  });

  it("gives a host its own storage credentials for its backups, checked by the destination's rules and kept secret", () => {
    const { load: read } = load(
      ["destinations:", "  s3: { type: s3, bucket: b, prefix: lb, accessKeyId: CONTROLLER, secretAccessKey: '${CTRL_SECRET}' }", "hosts:", "  web:", "    ssh: { host: a }", "    destination: s3", "    storage: { accessKeyId: WEBKEY, secretAccessKey: '${WEB_SECRET}' }", "  db:", "    ssh: { host: b }", "    destination: s3"].join("\n"),
      { CTRL_SECRET: "controller-secret-value", WEB_SECRET: "web-secret-value" },
    );
    const inventory = read();
    expect(inventory.hosts.get("web")!.ownStorage).toMatchObject({ type: "s3", bucket: "b", prefix: "lb", accessKeyId: "WEBKEY", secretAccessKey: "web-secret-value" });
    expect(inventory.hosts.get("db")!.ownStorage).toBeUndefined();
    expect(inventory.secrets()).toEqual(expect.arrayContaining(["web-secret-value", "WEBKEY", "controller-secret-value"]));
    const { load: bad } = load(["destinations:", "  s3: { type: s3, bucket: b, accessKeyId: a, secretAccessKey: c }", "hosts:", "  web:", "    ssh: { host: a }", "    destination: s3", "    storage: { bucket: other }"].join("\n"));
    expect(bad).toThrow(/hosts\.web\.storage\.bucket: a s3 destination takes only accessKeyId, secretAccessKey, sessionToken per host/);
  });

  for (const [name, lines, line, message] of cases) {
    it(`reports ${name} with file:line and field`, () => {
      const { file, load: run } = load(lines.join("\n") + "\n");
      let error: unknown;
      try {
        run();
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({ code: "CONFIG" });
      const text = (error as Error).message;
      expect(text).toContain(message);
      expect(text.startsWith(`${file}:${line}:`), text).toBe(true);
    });
  }

  it("reports a missing file with the fix", () => {
    expect(() => loadInventory(path.join(dir, "none.yaml"))).toThrow(/no such file/);
  });

  it("interpolates ${VAR} and ${VAR:-default}, keeps $${ literal, and lists interpolated values as secrets", () => {
    const inv = load(
      ["destinations:", "  s3: { type: s3, bucket: '${BUCKET:-dflt}', accessKeyId: '${KEY}', secretAccessKey: 'x$${y}', region: r }", "hosts: {}"].join("\n"),
      { KEY: "AKIA-from-env" },
    ).load();
    const d = inv.destinations.get("s3");
    expect(d).toMatchObject({ bucket: "dflt", accessKeyId: "AKIA-from-env", secretAccessKey: "x${y}" });
    expect(inv.secrets()).toContain("AKIA-from-env");
    expect(inv.secrets()).toContain("x${y}");
  });

  it("keeps ${VAR} in hook commands and gives the values to the hook's environment instead (secrets, never argv)", () => {
    const inv = load(
      [...base, "    plugins:", "      files:", "        paths: [/srv]", "        hooks:", "          before: \"curl -H 'Authorization: ${HOOK_TOKEN}' https://hc/start\"", "          after: ['echo $${HOME}', 'echo ${UNSET:-dflt}']"].join("\n"),
      { HOOK_TOKEN: "s3cr3t-token-value" },
    ).load();
    const hooks = (inv.hosts.get("web")!.plugins[0]!.config as { hooks: Record<string, unknown> }).hooks;
    expect(hooks).toEqual({ before: "curl -H 'Authorization: ${HOOK_TOKEN}' https://hc/start", after: ["echo ${HOME}", "echo ${UNSET:-dflt}"], env: { HOOK_TOKEN: "s3cr3t-token-value" } });
    expect(inv.secrets()).toContain("s3cr3t-token-value");
    expect(() => load([...base, "    plugins:", "      files:", "        paths: [/srv]", "        hooks: { before: 'echo ${NOPE}' }"].join("\n")).load()).toThrow(/fleet\.yaml:10:\d+: environment variable NOPE is not set/);
  });

  it("treats prepare commands like the other hooks: ${VAR} stays in the command, its value goes to the environment; readyTimeout is a duration", () => {
    const inv = load([...base, "    plugins:", "      files:", "        paths: [/srv]", "        hooks:", "          prepare: 'DB_PASSWORD=${DB_PW} docker compose up -d db'", "          readyTimeout: 30s"].join("\n"), { DB_PW: "db-pw-value" }).load();
    const raw = inv.hosts.get("web")!.plugins[0]!.config;
    expect((raw as { hooks: Record<string, unknown> }).hooks).toEqual({ prepare: "DB_PASSWORD=${DB_PW} docker compose up -d db", readyTimeout: "30s", env: { DB_PW: "db-pw-value" } });
    expect(splitHooks(raw, "plugins.files").hooks).toMatchObject({ prepare: ["DB_PASSWORD=${DB_PW} docker compose up -d db"], readyTimeoutMs: 30_000, before: [] });
    expect(splitHooks({ hooks: { readyTimeout: 0 } }, "p").hooks.readyTimeoutMs).toBe(0);
    expect(splitHooks({}, "p").hooks.readyTimeoutMs).toBe(120_000);
    expect(() => splitHooks({ hooks: { readyTimeout: "soon" } }, "p")).toThrow(/p\.hooks\.readyTimeout: expected a duration/);
    expect(() => splitHooks({ hooks: { prepare: [""] } }, "p")).toThrow(/p\.hooks\.prepare: expected a command or a list of commands/);
  });

  it("resolves ~/.ssh/config aliases as OpenSSH does: first value wins, IdentityFile accumulates, patterns and negation", () => {
    fs.mkdirSync(path.join(dir, ".ssh"));
    fs.writeFileSync(path.join(dir, ".ssh", "extra.conf"), "Host aidset\n  Port 2200\n");
    fs.writeFileSync(
      path.join(dir, "ssh_config"),
      [
        "Include extra.conf",
        "Host aidset",
        "  HostName 192.0.2.10",
        "  User deploy",
        "  Port 2222",
        "  IdentityFile ~/.ssh/aidset_%h",
        "Host *.internal !secret.internal",
        "  User ops",
        "Host *",
        "  User fallback",
        "  IdentityFile ~/.ssh/id_default",
        "Match host foo",
        "  User ignored",
      ].join("\n"),
    );
    const file = path.join(dir, "ssh_config");
    const a = resolveSshAlias("aidset", { file, homedir: dir });
    expect(a).toMatchObject({ hostname: "192.0.2.10", user: "deploy", port: 2200 });
    expect(a.identityFiles).toEqual([path.join(dir, ".ssh/aidset_192.0.2.10"), path.join(dir, ".ssh/id_default")]);
    expect(resolveSshAlias("db.internal", { file, homedir: dir }).user).toBe("ops");
    expect(resolveSshAlias("secret.internal", { file, homedir: dir }).user).toBe("fallback");
    const inv = load(["destinations:", "  usb: { type: local, path: /mnt/usb }", "defaults: { destination: usb, ssh: { user: root } }", "hosts:", "  aidset: { ssh: aidset }", "  other: { ssh: { host: 10.1.1.1, port: 2022 } }"].join("\n")).load();
    expect(inv.hosts.get("aidset")!.ssh).toMatchObject({ hostname: "192.0.2.10", user: "deploy", port: 2200 });
    expect(inv.hosts.get("other")!.ssh).toMatchObject({ hostname: "10.1.1.1", user: "root", port: 2022 });
  });

  it("expands the openwebui preset into sqlite, chroma and files instances", () => {
    const inv = load(["destinations:", "  usb: { type: local, path: /mnt/usb }", "hosts:", "  web:", "    ssh: { host: a }", "    destination: usb", "    presets:", "      openwebui: { data: /srv/openwebui/data }"].join("\n")).load();
    expect(inv.hosts.get("web")!.plugins.map((p) => [p.instance, p.plugin, p.config])).toEqual([
      ["openwebui-files", "files", { paths: ["/srv/openwebui/data"], exclude: ["cache/", "audit.log", "/webui.db", "/webui.db-*", "/vector_db/"] }],
      ["openwebui-db", "sqlite", { databases: ["/srv/openwebui/data/webui.db"] }],
      ["openwebui-vectors", "chroma", { path: "/srv/openwebui/data/vector_db" }],
    ]);
    const bad = load(["destinations:", "  usb: { type: local, path: /mnt/usb }", "hosts:", "  web:", "    ssh: { host: a }", "    destination: usb", "    presets:", "      openwebui: { data: relative }"].join("\n"));
    expect(bad.load).toThrow(new RegExp(`^${bad.file}:8:\\d+: hosts\\.web\\.presets\\.openwebui\\.data: must be an absolute path`));
  });

  it("gives each host its schedule, freshness target, verification period and retention: its own fields over the defaults'", () => {
    const { load: read } = load(
      [
        "defaults:",
        "  destination: usb",
        "  schedule: '0 3 * * *'",
        "  jitter: 10m",
        "  retention: { keepLast: 3 }",
        "destinations:",
        "  usb: { type: local, path: /mnt/usb }",
        "hosts:",
        "  web: { ssh: { host: a }, schedule: '*/5 * * * * *', maxAge: 2h, retention: { keepDaily: 7, keepWithin: 2d } }",
        "  spare: { ssh: { host: b } }",
      ].join("\n"),
    );
    const inv = read();
    expect(inv.hosts.get("web")!.operations).toEqual({ schedule: { cron: "*/5 * * * * *", jitterMs: 600_000 }, maxAgeMs: 7_200_000, verifyEveryMs: 7 * 86_400_000, rehashEveryMs: 30 * 86_400_000, chunking: true, retention: { keepDaily: 7, keepWithinMs: 2 * 86_400_000 } });
    expect(inv.hosts.get("spare")!.operations).toEqual({ schedule: { cron: "0 3 * * *", jitterMs: 600_000 }, maxAgeMs: 25 * 3_600_000, verifyEveryMs: 7 * 86_400_000, rehashEveryMs: 30 * 86_400_000, chunking: true, retention: { keepLast: 3 } });
  });

  /** An inventory of hosts web and spare with extra fields in `defaults` and in web. */
  const fleet = (defaults: string, web: string) =>
    load(["destinations:", "  usb: { type: local, path: /mnt/usb }", `defaults: { destination: usb${defaults} }`, "hosts:", `  web: { ssh: { host: a }${web} }`, "  spare: { ssh: { host: b } }"].join("\n"));

  it("reads chunking in the defaults and per host (default true), a host's own value replacing the default's", () => {
    const chunking = (inv: ReturnType<ReturnType<typeof fleet>["load"]>) => [...inv.hosts.values()].map((h) => h.operations.chunking);
    expect(chunking(fleet("", "").load())).toEqual([true, true]);
    expect(chunking(fleet(", chunking: false", "").load())).toEqual([false, false]);
    expect(chunking(fleet(", chunking: false", ", chunking: true").load())).toEqual([true, false]);
    expect(fleet("", ", chunking: sometimes").load).toThrow(/hosts\.web\.chunking/);
  });

  it("reads rehashEvery in the defaults and per host: a duration, or never (null), which a host's own value replaces", () => {
    const rehash = (inv: ReturnType<ReturnType<typeof fleet>["load"]>) => [...inv.hosts.values()].map((h) => h.operations.rehashEveryMs);
    expect(rehash(fleet("", "").load())).toEqual([30 * 86_400_000, 30 * 86_400_000]);
    expect(rehash(fleet(", rehashEvery: never", ", rehashEvery: 2w").load())).toEqual([14 * 86_400_000, null]);
    expect(rehash(fleet(", rehashEvery: 90d", ", rehashEvery: never").load())).toEqual([null, 90 * 86_400_000]);
    for (const bad of ["sometimes", "0", "-1d"]) {
      expect(fleet("", `, rehashEvery: ${bad}`).load).toThrow(/hosts\.web\.rehashEvery: expected a duration such as 30d or 2w, or never/);
    }
  });

  it("loads the documented example", () => {
    const inv = loadInventory(path.resolve("inventory/example.yaml"), { env: { B2_KEY_ID: "k", B2_APP_KEY: "s", NAS_SSH_KEY: "pem", NTFY_TOPIC: "lifeboat-topic" }, homedir: dir, validatePlugin });
    expect([...inv.hosts.keys()]).toEqual(["aidset", "gpu1", "fresh-vps"]);
    expect(inv.hosts.get("gpu1")!.operations).toEqual({
      schedule: { cron: "30 2 * * *", timezone: "Europe/Berlin", jitterMs: 20 * 60_000 },
      maxAgeMs: 25 * 3_600_000,
      verifyEveryMs: 7 * 86_400_000,
      rehashEveryMs: 30 * 86_400_000,
      chunking: true,
      retention: { keepDaily: 30, keepMonthly: 12, keepYearly: 7 },
    });
    expect(inv.alerts).toEqual([expect.objectContaining({ type: "ntfy", url: "https://ntfy.sh/lifeboat-topic" })]);
    expect(inv.secrets()).toContain("https://ntfy.sh/lifeboat-topic");
    expect(inv.hosts.get("aidset")!.plugins.map((p) => `${p.instance}:${p.plugin}`)).toEqual(["files:files", "webui-db:sqlite"]);
    expect(selectHosts(inv, { group: ["ai"] }).map((h) => h.name)).toEqual(["aidset", "gpu1"]);
    expect(() => selectHosts(inv, { host: ["nope"] })).toThrow(expect.objectContaining({ code: "USAGE", hint: "known hosts: aidset, gpu1, fresh-vps" }));
    expect(() => selectHosts(inv, {})).toThrow(/No hosts selected/);
  });
});
