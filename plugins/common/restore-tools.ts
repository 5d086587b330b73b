/** @module The programs a plugin's restore runs on the host (`Plugin.restoreTools`), with how to get them on Debian. */
import type { RestoreTool } from "../contract";
import type { ServiceLocation } from "./service-tool";

/** How to get the docker CLI on Debian. */
export const DOCKER_INSTALL = "apt-get install docker.io (or Docker's docker-ce packages)";

/**
 * The tools a plugin runs where its service is (see `ServiceTool`): on the host
 * as given; for a containerized service only the docker CLI on the host, since
 * the tools run inside the container (`docker exec`).
 */
export function serviceTools(location: ServiceLocation, tools: RestoreTool[]): RestoreTool[] {
  return location.container ? [{ command: location.docker, install: DOCKER_INSTALL }] : tools;
}
