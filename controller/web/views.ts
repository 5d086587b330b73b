/**
 * @module What the dashboard shows, as data: the one set of types both its
 * pages and its JSON API are made of (`/api/hosts` is the overview page's data,
 * `/api/hosts/NAME` the host page's, ...). Field names are stable; a host's
 * status fields are exactly `controller status --json`'s.
 */
import type { ArtifactRecord } from "../../core/records";
import type { RetentionPolicy } from "../../inventory/operations";
import type { HostStatus, StatusCounts } from "../fleet/status";
import type { VerificationView, SnapshotView } from "../ledger/ledger";
import type { DayGrowth, JobRow, SnapshotRow, StoredTotals } from "../ledger/dashboard-ledger";

/** An open alert (a problem notifiers were told about, not yet recovered). */
export interface AlertView {
  id: number;
  /** failure, stale, verify-failed, cert-expiring. */
  event: string;
  /** What within the host ('' for the host as a whole). */
  subject: string;
  message: string;
  openedAt: string;
}

/** One host on the overview: its status (as `controller status --json`) and what it stores. */
export interface HostSummary extends HostStatus {
  /** The inventory's destination of the host. */
  destination: string;
  /** Every snapshot of the host the ledger knows, all destinations. */
  storage: { snapshots: number; plainBytes: number; storedBytes: number; reusedBytes: number };
  /** The last backup job's duration. */
  lastRunDurationMs: number | null;
  /** Open alerts. */
  alerts: AlertView[];
  /** A line per problem, as `controller status` prints them. */
  problems: string[];
  /** A job of the host running now. */
  running: { kind: string; startedAt: string } | null;
}

/** `GET /api/hosts`: the overview. */
export interface OverviewView {
  type: "hosts";
  time: string;
  /** Worst first: STALE, FAILED, UNVERIFIED, CERT, fresh, restore targets; within a state, more problems and older snapshots first. */
  hosts: HostSummary[];
  counts: StatusCounts;
  totals: { storedBytes: number; plainBytes: number; openAlerts: number };
}

/** A plugin instance of a host: its newest complete snapshot, its size, its part in the last backup, its newest deep verification. */
export interface InstanceState {
  instance: string;
  plugin: string;
  /** The newest complete, undamaged snapshot holding it. */
  lastSuccess: { snapshotId: string; finishedAt: string } | null;
  plainBytes: number;
  storedBytes: number;
  /** In the host's last backup job: how it ended and how long it took (null: not in it). */
  lastRun: { status: "ok" | "failed"; durationMs: number } | null;
  verification: { time: string; snapshotId: string; ageMs: number } | null;
  /** No complete snapshot holds it within the host's maxAge. */
  stale: boolean;
}

/** A plugin instance on the host page: its state and its artifacts in its newest snapshot, with the plugin's facts (row counts, certificates, ...). */
export interface InstanceView extends InstanceState {
  artifacts: ArtifactRecord[];
}

/** A job with what the ledger recorded about it. */
export interface RunView extends JobRow {
  events: { level: "error" | "warning"; plugin: string | null; code: string | null; message: string; hint: string | null }[];
  /** Hook commands and their output, as the agent reported them (text from the host: never trusted as HTML). */
  hooks: { plugin: string; phase: string; command: string; exitCode: number; output: string }[];
}

/** What the next prune does with the host's snapshots, and why. */
export interface RetentionView {
  /** The host's policy, or null: retention keeps everything. */
  policy: RetentionPolicy | null;
  keep: number;
  delete: number;
  snapshots: { id: string; status: string; startedAt: string; action: "keep" | "delete"; rules: string[] }[];
  notes: string[];
}

/** `GET /api/hosts/NAME`: the host page. */
export interface HostView {
  type: "host";
  time: string;
  host: HostSummary;
  instances: InstanceView[];
  /** Every snapshot, newest first. */
  snapshots: SnapshotRow[];
  /** The newest jobs of any kind, newest first. */
  runs: RunView[];
  retention: RetentionView;
  /** The bytes stored by the host's snapshots, summed in time order (the complete ones the ledger still knows). */
  history: { time: string; snapshotId: string; storedBytes: number; totalStoredBytes: number }[];
}

/** `GET /api/hosts/NAME/snapshots/ID`: the snapshot page. */
export interface SnapshotPageView {
  type: "snapshot";
  time: string;
  snapshot: SnapshotView;
  /** The backup job that wrote it. */
  job: RunView | null;
  /** Every verification, newest first. */
  verifications: VerificationView[];
  /** Command lines to copy: plan and run a restore, fetch each artifact (those with plain names: letters, digits, `._-`), verify it. */
  commands: { restorePlan: string; restore: string; verify: string; fetch: { artifact: string; command: string }[] };
}

/** `GET /api/storage`: the fleet's storage. */
export interface StorageView {
  type: "storage";
  time: string;
  totals: { snapshots: number; plainBytes: number; storedBytes: number; reusedBytes: number };
  /** Per host and destination, most stored first. */
  hosts: StoredTotals[];
  /** Per destination, with its mean growth per day over the last 7 days. */
  destinations: { destination: string; snapshots: number; plainBytes: number; storedBytes: number; reusedBytes: number; growthPerDayBytes: number }[];
  /** Bytes added per day and destination, the last 90 days, with the destination's total up to that day (of the snapshots kept). */
  days: (DayGrowth & { totalStoredBytes: number })[];
}
