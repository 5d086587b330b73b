/** @module The `nginx` plugin: the configuration tree; restores are tested with `nginx -t` before they are swapped in, reloads only on request. */
import { LifeboatError } from "../agent/errors";
import { FieldReader } from "../agent/validate";
import { filesPlugin, restoreTrees } from "./files";
import { runShell } from "./shell";
import type { ArtifactSource, CompressionHint, Plugin, PluginContext } from "./types";

/** Configuration of an `nginx` plugin instance. */
export interface NginxConfig {
  /** The configuration directory, e.g. /etc/nginx or an app's nginx/. */
  root: string;
  /** The main file, relative to root. */
  main: string;
  nginx: string;
  /** Reload nginx after a restore whose test passed. */
  reload: boolean;
  reloadCommand: string;
  compression: CompressionHint;
}

/**
 * Runs `nginx -t` on a staged tree. The tree's absolute references to `root`
 * (includes, mime.types...) are pointed at a scratch copy, so the staged files
 * are tested rather than the live ones.
 */
async function testStaged(ctx: PluginContext, config: NginxConfig, staged: string): Promise<string> {
  const p = ctx.platform;
  const copy = `${ctx.scratchDir}/nginx-test`;
  await p.remove(copy);
  const cp = await p.run("cp", ["-a", staged, copy]);
  if (cp.code !== 0) throw new LifeboatError("RESTORE", `Cannot prepare the nginx test copy: ${cp.stderr.trim()}`);
  const root = config.root.replace(/\/$/, "");
  // Text files under 1 MiB (find rounds sizes up to the unit, so "-1M" would mean empty files only).
  const files = (await p.run("find", [copy, "-type", "f", "-size", "-1024k"])).stdout.split("\n").filter(Boolean);
  for (const file of files) {
    const text = await p.readText(file);
    if (text.includes(root) && !text.includes("\0")) await p.writeFile(file, text.split(`${root}/`).join(`${copy}/`), (await p.stat(file)).mode);
  }
  let result;
  try {
    // The default prefix stays (relative load_module paths resolve as in production); includes resolve from -c's directory.
    result = await p.run(config.nginx, ["-t", "-q", "-e", `${ctx.scratchDir}/nginx-test-error.log`, "-c", `${copy}/${config.main}`]);
  } catch {
    throw new LifeboatError("TOOL_MISSING", `Cannot test the nginx configuration: "${config.nginx}" is not installed on this host`, { hint: "install nginx, or set nginx: to its path" });
  } finally {
    await p.remove(copy);
  }
  const report = `${result.stdout}${result.stderr}`.trim().split(`${copy}/`).join(`${root}/`);
  if (result.code !== 0) {
    throw new LifeboatError("RESTORE", `Refusing to restore the nginx configuration "${config.root}": nginx -t failed: ${report.split("\n").slice(0, 3).join(" | ")}`, {
      hint: "restore it with --into DIR to inspect it, or pick another snapshot",
    });
  }
  return report;
}

export const nginxPlugin: Plugin<NginxConfig> = {
  name: "nginx",

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const root = r.string("root", true) ?? "/etc/nginx";
    if (!root.startsWith("/")) throw r.fail("root", `must be an absolute path, got "${root}"`);
    const nginx = r.string("nginx", true) ?? "nginx";
    const config: NginxConfig = {
      root: root.replace(/(.)\/$/, "$1"),
      main: r.string("main", true) ?? "nginx.conf",
      nginx,
      reload: r.boolean("reload", false),
      reloadCommand: r.string("reloadCommand", true) ?? `${nginx} -s reload`,
      compression: r.oneOf("compression", ["auto", "none", "zstd", "gzip"] as const, "auto"),
    };
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    if (!(await ctx.platform.exists(`${config.root}/${config.main}`))) {
      throw new LifeboatError("SOURCE", `Cannot back up nginx: "${config.root}/${config.main}" does not exist on this host`, { hint: "set root: (and main:) to the configuration directory" });
    }
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    const files = { paths: [config.root], exclude: [], oneFileSystem: false, compression: config.compression };
    const version = await ctx.platform.run(config.nginx, ["-v"]).then((r) => r.stderr.trim(), () => "unknown");
    for await (const artifact of filesPlugin.backup(ctx, files)) {
      yield { ...artifact, name: "nginx.tar", metadata: () => ({ ...artifact.metadata(), root: config.root, main: config.main, nginxVersion: version }) };
    }
  },

  async restore(ctx, config, inputs, target) {
    const root = (inputs[0]?.record.metadata.root as string | undefined) ?? config.root;
    let tested = "";
    const report = await restoreTrees(ctx, [root], inputs, target, async (staged) => {
      tested = await testStaged(ctx, { ...config, root }, staged.get(root)!);
    });
    if (config.reload && !target.into) {
      const result = await runShell(ctx.platform, config.reloadCommand);
      if (result.code !== 0) throw new LifeboatError("RESTORE", `Restored "${root}" (nginx -t passed) but the reload failed: ${result.output.trim()}`, { hint: "reload nginx by hand once the cause is fixed" });
    }
    return { ...report, details: { nginxTest: tested || "ok", reloaded: config.reload && !target.into } };
  },

  async verify(ctx, config, inputs, scratch) {
    const report = await nginxPlugin.restore(ctx, config, inputs, { into: scratch });
    const root = (inputs[0]?.record.metadata.root as string | undefined) ?? config.root;
    return { checks: [`${root}: nginx -t passed on the restored configuration${report.details?.nginxTest && report.details.nginxTest !== "ok" ? ` (${String(report.details.nginxTest).split("\n")[0]})` : ""}`] };
  },
};
