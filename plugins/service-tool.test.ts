// Mapping a containerized service's paths onto the host; streaming a tool's output.
import { describe, expect, it } from "vitest";
import { currentPlatform } from "../agent/platform";
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
