/** @module Choosing hosts from the command line: by name, by group, or all. */
import { LifeboatError } from "../core/errors";
import type { HostConfig, Inventory } from "./schema";

/** The selected hosts, each once, in inventory order. @throws LifeboatError("USAGE") naming unknown names. */
export function selectHosts(inv: Inventory, sel: { host?: string[]; group?: string[]; all?: boolean }): HostConfig[] {
  if (!sel.all && !sel.host?.length && !sel.group?.length) {
    throw new LifeboatError("USAGE", "No hosts selected", { hint: "pass --host NAME, --group NAME or --all" });
  }
  if (sel.all) return [...inv.hosts.values()];
  const wanted = new Set<string>();
  for (const name of sel.host ?? []) {
    if (!inv.hosts.has(name)) {
      throw new LifeboatError("USAGE", `Cannot find host "${name}" in the inventory "${inv.file}"`, { hint: `known hosts: ${[...inv.hosts.keys()].join(", ") || "none"}` });
    }
    wanted.add(name);
  }
  for (const name of sel.group ?? []) {
    const members = inv.groups.get(name);
    if (!members) {
      throw new LifeboatError("USAGE", `Cannot find group "${name}" in the inventory "${inv.file}"`, { hint: `known groups: ${[...inv.groups.keys()].join(", ") || "none"}` });
    }
    for (const m of members) wanted.add(m);
  }
  return [...inv.hosts.values()].filter((h) => wanted.has(h.name));
}
