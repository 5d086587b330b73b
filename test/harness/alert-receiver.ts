/** @module A local HTTP server standing in for webhook, ntfy, healthchecks, Slack and Discord endpoints: it records every request. */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the receiver got. */
export interface ReceivedRequest {
  method: string;
  /** Path and query, e.g. `/hc/alpha/start`. */
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** When it arrived (ms). */
  at: number;
}

/** A running receiver; `url(path)` is its address for a path. */
export interface AlertReceiver {
  requests: ReceivedRequest[];
  url(path: string): string;
  /** The JSON bodies of the requests to `path`. */
  json(path: string): Record<string, unknown>[];
  /** Answers requests to paths starting with `prefix` with these statuses, in order (then 200). */
  respond(prefix: string, statuses: number[]): void;
  /** Resolves once `predicate` holds for the requests (polls; rejects after `timeoutMs`). */
  waitFor(predicate: (requests: ReceivedRequest[]) => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 and a free port. */
export async function startAlertReceiver(): Promise<AlertReceiver> {
  const requests: ReceivedRequest[] = [];
  const scripted = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      requests.push({ method: req.method ?? "", path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      const prefix = [...scripted.keys()].find((p) => path.startsWith(p));
      const status = prefix ? (scripted.get(prefix)!.shift() ?? 200) : 200;
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "OK" : "no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    requests,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    json: (path) => requests.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as Record<string, unknown>),
    respond: (prefix, statuses) => void scripted.set(prefix, [...statuses]),
    async waitFor(predicate, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(requests)) {
        if (Date.now() > deadline) throw new Error(`the alert receiver did not get ${what} within ${timeoutMs} ms; it got: ${requests.map((r) => `${r.method} ${r.path} ${r.body.slice(0, 200)}`).join("\n") || "nothing"}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
