// Mapping a containerized service's paths onto the host; streaming a tool's output; copying into a container.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { currentPlatform } from "../../platform/current";
import { dockerStandIn } from "../../test/harness/docker-standin";
import { ServiceTool } from "./service-tool";

describe("service tool", () => {
  const tool = new ServiceTool(currentPlatform(), { container: "db", docker: "docker", paths: { "/data": "/srv/redis/data", "/data/sub": "/mnt/other" } });

  it("maps container paths through the longest matching prefix", () => {
    expect(tool.hostPath("/data/dump.rdb")).toBe("/srv/redis/data/dump.rdb");
    expect(tool.hostPath("/data/sub/x")).toBe("/mnt/other/x");
    expect(tool.hostPath("/data")).toBe("/srv/redis/data");
  });

  it("names the unmapped path and the fix", () => {
    expect(() => tool.hostPath("/var/lib/redis")).toThrow(expect.objectContaining({ code: "CONFIG", hint: expect.stringContaining("containerPaths") }));
  });

  it("describes a mapped path with its container and host path, and a host path alone", () => {
    expect(tool.describe(tool.map("/data/dump.rdb"))).toBe('"/data/dump.rdb" of container "db" (on the host "/srv/redis/data/dump.rdb")');
    const host = new ServiceTool(currentPlatform(), { docker: "docker", paths: {} });
    expect(host.describe(host.map("/var/lib/redis"))).toBe('"/var/lib/redis"');
    expect(host.pathHint("fix dir:")).toBe("fix dir:");
    expect(tool.pathHint("fix dir:")).toContain("containerPaths");
  });

  it("copies a directory into the container with docker cp, and with cp -a for a service on the host (stand-in docker: runs locally)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-service-tool-"));
    const standin = dockerStandIn();
    try {
      fs.mkdirSync(path.join(dir, "tree", "sub"), { recursive: true });
      fs.writeFileSync(path.join(dir, "tree", "sub", "a.conf"), "a");
      const inContainer = new ServiceTool(currentPlatform(), { container: "web", docker: standin.docker, paths: {} });
      expect((await inContainer.copyIn(path.join(dir, "tree"), path.join(dir, "in-container"))).code).toBe(0);
      expect(fs.readFileSync(path.join(dir, "in-container", "sub", "a.conf"), "utf8")).toBe("a");
      expect(standin.calls()).toEqual([`web cp -a ${dir}/tree ${dir}/in-container`]);
      const onHost = new ServiceTool(currentPlatform(), { docker: standin.docker, paths: {} });
      expect((await onHost.copyIn(path.join(dir, "tree"), path.join(dir, "on-host"))).code).toBe(0);
      expect(fs.readFileSync(path.join(dir, "on-host", "sub", "a.conf"), "utf8")).toBe("a");
      expect(standin.calls()).toHaveLength(1);
      await expect(new ServiceTool(currentPlatform(), { container: "web", docker: "/nonexistent/docker", paths: {} }).copyIn(dir, "/tmp/x")).rejects.toMatchObject({
        code: "TOOL_MISSING",
        message: expect.stringContaining('Cannot run "/nonexistent/docker" for container "web"'),
      });
    } finally {
      standin.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("leaves paths alone for a service on the host", () => {
    expect(new ServiceTool(currentPlatform(), { docker: "docker", paths: {} }).hostPath("/var/lib/redis/dump.rdb")).toBe("/var/lib/redis/dump.rdb");
  });

  it("streams a block-buffered tool under stdbuf on the host, and still names the tool when it fails", async () => {
    const host = new ServiceTool(currentPlatform(), { docker: "docker", paths: {} });
    const read = async (tool: string, args: string[]) => {
      let out = "";
      for await (const chunk of host.stream(tool, args, { blockBuffered: true })) out += new TextDecoder().decode(chunk);
      return out;
    };
    expect(await read("sh", ["-c", 'echo "$_STDBUF_O"'])).toBe("1048576\n");
    expect((await read("seq", ["1", "200000"])).split("\n").length).toBe(200001);
    await expect(read("sh", ["-c", "echo broken >&2; exit 3"])).rejects.toMatchObject({ code: "SOURCE", message: "Cannot complete sh: it exited with code 3: broken" });
    await expect(read("/nonexistent/pg_dump", [])).rejects.toMatchObject({ code: "TOOL_MISSING", message: expect.stringContaining('Cannot run "/nonexistent/pg_dump"') });
  });
});
