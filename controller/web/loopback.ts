/** @module Which addresses are this machine's own: where the dashboard may listen, and which names it answers, without a token. */

/** Whether `host` (a name or an address, IPv6 without brackets) is a loopback address: IPv4 127/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
