/**
 * @module The `nginx` plugin: the configuration tree; restores are tested with `nginx -t`
 * before they are swapped in, reloads only on request. With `container:` the tree is
 * read and written on the host through `containerPaths`, and nginx runs in the container.
 */
import { LifeboatError, messageOf } from "../../core/errors";
import { FieldReader } from "../../core/validate";
import { treeArchive } from "../common/tree-archive";
import { restoreTrees } from "../common/tree-restore";
import { checkRestoreLocation, locationFacts, readLocation, ServiceTool, type ServiceLocation } from "../common/service-tool";
import { linkDestination } from "../common/safe-path";
import { runShell } from "../common/shell";
import { listTree } from "../common/tree";
import { configuredTargets } from "../common/restore-targets";
import type { ArtifactSource, Plugin, PluginContext } from "../contract";
import { serviceTools } from "../common/restore-tools";
import { readCompression } from "../common/config-fields";
import type { CompressionHint } from "../../core/records";

/** Configuration of an `nginx` plugin instance. */
export interface NginxConfig {
  /** The configuration directory, e.g. /etc/nginx or an app's nginx/ (as the container sees it, with `container:`). */
  root: string;
  /** The main file, relative to root. */
  main: string;
  nginx: string;
  /** Reload nginx after a restore whose test passed. */
  reload: boolean;
  /** An operator's reload command (run with `sh -c` on the host); without it `nginx -s reload` runs where nginx is. */
  reloadCommand?: string;
  compression: CompressionHint;
  location: ServiceLocation;
}

/** What `nginx -t` said of a staged tree, and the symlinks of the tree that lead out of it. */
interface StagedTest {
  report: string;
  /** `link → target` for links whose target is outside the configuration tree (tested against this host's files). */
  linksOutside: string[];
}

/**
 * Points the copy's symlinks that lead into the configuration tree (Debian's
 * `sites-enabled/default -> /etc/nginx/sites-available/default`) at the copy
 * itself (`copy` is where nginx sees it), so that no live file stands in for a
 * staged one; links that lead out of the tree keep naming the host's file, as
 * in production (relative ones made absolute). @returns the links that lead out of the tree.
 */
async function pointLinksIntoCopy(ctx: PluginContext, prepared: string, root: string, copy: string): Promise<string[]> {
  const p = ctx.platform;
  const outside: string[] = [];
  for (const entry of await listTree(p, prepared)) {
    if (entry.info.kind !== "symlink") continue;
    const link = `${prepared}/${entry.rel}`;
    const target = await p.readlink(link);
    const destination = linkDestination(`${root}/${entry.rel}`, target);
    const absolute = target.startsWith("/");
    let fixed: string | undefined; // relative links inside the tree already resolve inside the copy
    if (destination !== root && !destination.startsWith(`${root}/`)) {
      outside.push(`${entry.rel} → ${target}`);
      if (!absolute) fixed = destination;
    } else if (absolute) fixed = `${copy}${destination.slice(root.length)}`;
    if (fixed === undefined) continue;
    await p.remove(link);
    await p.symlink(fixed, link);
  }
  return outside;
}

/**
 * Runs `nginx -t` on a staged tree (on the host). The tree is copied to scratch
 * space and its absolute references to `root` (includes, mime.types, symlinks
 * such as Debian's sites-enabled/) are pointed at the place nginx sees the copy,
 * so the staged files are tested rather than the live ones. On the host that
 * place is the scratch copy; with a container the copy is `docker cp`'d to
 * /tmp/lifeboat-nginx-<jobId> in it (the container may not see the staging
 * directory) and always removed after.
 */
async function testStaged(ctx: PluginContext, tool: ServiceTool, config: NginxConfig, root: string, staged: string): Promise<StagedTest> {
  const p = ctx.platform;
  const prepared = `${ctx.scratchDir}/nginx-test`;
  const name = `nginx-${ctx.jobId}`;
  const copy = tool.placeFor(prepared, name); // where nginx sees the copy
  const errorLog = config.location.container ? `${copy}.error.log` : `${ctx.scratchDir}/nginx-test-error.log`;
  await p.remove(prepared);
  const cp = await p.run("cp", ["-a", staged, prepared]);
  if (cp.code !== 0) throw new LifeboatError("RESTORE", `Cannot prepare the nginx test copy: ${cp.stderr.trim()}`);
  let result;
  let linksOutside: string[];
  try {
    linksOutside = await pointLinksIntoCopy(ctx, prepared, root, copy);
    // Text files under 1 MiB (find rounds sizes up to the unit, so "-1M" would mean empty files only).
    const files = (await p.run("find", [prepared, "-type", "f", "-size", "-1024k"])).stdout.split("\n").filter(Boolean);
    for (const file of files) {
      const text = await p.readText(file);
      if (text.includes(root) && !text.includes("\0")) await p.writeFile(file, text.split(`${root}/`).join(`${copy}/`), (await p.stat(file)).mode);
    }
    // The default prefix stays (relative load_module paths resolve as in production); includes resolve from -c's directory.
    result = await tool.withCopyIn(prepared, name, (place) => tool.run(config.nginx, ["-t", "-q", "-e", errorLog, "-c", `${place}/${config.main}`]), ctx.warn, config.location.container ? [errorLog] : []);
  } catch (err) {
    if (config.location.container || !(err instanceof LifeboatError) || err.code !== "TOOL_MISSING") throw err;
    throw new LifeboatError("TOOL_MISSING", `Cannot test the nginx configuration: "${config.nginx}" is not installed on this host`, { hint: "install nginx, or set nginx: to its path" });
  } finally {
    await p.remove(prepared);
  }
  const report = `${result.stdout}${result.stderr}`.trim().split(`${copy}/`).join(`${root}/`);
  if (result.code !== 0) {
    throw new LifeboatError("RESTORE", `Refusing to restore the nginx configuration "${root}": nginx -t failed: ${report.split("\n").slice(0, 3).join(" | ")}`, {
      hint: "restore it with --into DIR to inspect it, or pick another snapshot",
    });
  }
  if (linksOutside.length > 0) ctx.log(`links leading out of ${root} (tested against this host's files): ${linksOutside.join(", ")}`);
  return { report, linksOutside };
}

/** `nginx -v`'s answer where nginx runs; "unknown", with a warning that says why, when nginx cannot be run. */
async function nginxVersion(ctx: PluginContext, tool: ServiceTool, config: NginxConfig): Promise<string> {
  let problem: string;
  try {
    const result = await tool.run(config.nginx, ["-v"]);
    if (result.code === 0) return result.stderr.trim() || "unknown";
    problem = `"${config.nginx} -v" exited with code ${result.code}: ${result.stderr.trim().split("\n").slice(-1)[0]}`;
  } catch (err) {
    problem = messageOf(err);
  }
  ctx.warn(`Cannot read nginx's version: ${problem}: restores of this configuration cannot be tested with nginx -t here until nginx is installed (or nginx: names it)`);
  return "unknown";
}

/** Reloads nginx: the operator's reloadCommand on the host, or `nginx -s reload` where nginx runs. */
async function reloadNginx(ctx: PluginContext, tool: ServiceTool, config: NginxConfig): Promise<{ code: number; output: string }> {
  if (config.reloadCommand) return runShell(ctx.platform, config.reloadCommand);
  const result = await tool.run(config.nginx, ["-s", "reload"]).catch((err: unknown) => ({ code: 127, stdout: "", stderr: messageOf(err) }));
  return { code: result.code, output: `${result.stdout}${result.stderr}` };
}

/** The configuration directory the snapshot recorded (as nginx sees it). */
const recordedRoot = (config: NginxConfig, metadata: Record<string, unknown> | undefined) => (metadata?.root as string | undefined) ?? config.root;

export const nginxPlugin: Plugin<NginxConfig> = {
  name: "nginx",
  restoreStage: "web",
  // `nginx -t` on the staged tree, where nginx runs (reloadCommand is the operator's own).
  restoreTools: (config) => serviceTools(config.location, [{ command: config.nginx, install: "apt-get install nginx" }]),

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const root = r.absolutePath("root", "/etc/nginx");
    const reloadCommand = r.string("reloadCommand", true);
    const config: NginxConfig = {
      root: root.replace(/(.)\/$/, "$1"),
      main: r.string("main", true) ?? "nginx.conf",
      nginx: r.string("nginx", true) ?? "nginx",
      reload: r.boolean("reload", false),
      ...(reloadCommand ? { reloadCommand } : {}),
      compression: readCompression(r),
      location: readLocation(r),
    };
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    const tool = new ServiceTool(ctx.platform, config.location);
    const main = tool.map(`${config.root}/${config.main}`);
    if (!(await ctx.platform.exists(main.host))) {
      throw new LifeboatError("SOURCE", `Cannot back up nginx: ${tool.describe(main)} does not exist on this host`, { hint: tool.pathHint("set root: (and main:) to the configuration directory") });
    }
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    const tool = new ServiceTool(ctx.platform, config.location);
    const tree = tool.map(config.root);
    const version = await nginxVersion(ctx, tool, config);
    const artifact = treeArchive(ctx, [tree], { exclude: [], oneFileSystem: false, compression: config.compression });
    yield { ...artifact, name: "nginx.tar", metadata: () => ({ ...artifact.metadata(), root: config.root, main: config.main, nginxVersion: version, ...locationFacts(config.location) }) };
  },

  async restore(ctx, config, inputs, target) {
    const tool = new ServiceTool(ctx.platform, config.location);
    const [root] = configuredTargets(inputs[0]?.record.metadata.root, [config.root], target.into, "the nginx configuration") as [string];
    checkRestoreLocation(config.location, inputs[0]?.record.metadata ?? {}, root, target.into);
    let tested: StagedTest = { report: "", linksOutside: [] };
    const report = await restoreTrees(ctx, [tool.map(root)], inputs, target, async (staged) => {
      tested = await testStaged(ctx, tool, config, root, staged.get(root)!);
    });
    if (config.reload && !target.into) {
      const result = await reloadNginx(ctx, tool, config);
      if (result.code !== 0) throw new LifeboatError("RESTORE", `Restored "${root}" (nginx -t passed) but the reload failed: ${result.output.trim()}`, { hint: "reload nginx by hand once the cause is fixed" });
    }
    return { ...report, details: { nginxTest: tested.report || "ok", linksOutside: tested.linksOutside, reloaded: config.reload && !target.into } };
  },

  async verify(ctx, config, inputs, scratch) {
    const report = await nginxPlugin.restore(ctx, config, inputs, { into: scratch });
    const root = recordedRoot(config, inputs[0]?.record.metadata);
    const outside = (report.details?.linksOutside ?? []) as string[];
    return {
      checks: [
        `${root}: nginx -t passed on the restored configuration${report.details?.nginxTest && report.details.nginxTest !== "ok" ? ` (${String(report.details.nginxTest).split("\n")[0]})` : ""}`,
        ...(outside.length > 0 ? [`${root}: links leading out of the tree, tested against this host's files: ${outside.join(", ")}`] : []),
      ],
    };
  },
};
