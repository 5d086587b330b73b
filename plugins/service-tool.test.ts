// Mapping a containerized service's paths onto the host.
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
});
