/** @module The `alerts` and `alert_deliveries` tables: open problems, and when each notifier last heard of them. */
import type Database from "better-sqlite3";

/** A problem alerts are (or were) sent about: one per host, event and subject while open. */
export interface AlertRow {
  id: number;
  host: string;
  /** failure, stale, verify-failed, cert-expiring. */
  event: string;
  /** What within the host ('' for the host as a whole). */
  subject: string;
  message: string;
  openedAt: string;
  lastSentAt: string | null;
  sentCount: number;
  closedAt: string | null;
}

interface Row {
  id: number;
  host: string;
  event: string;
  subject: string;
  message: string;
  opened_at: string;
  last_sent_at: string | null;
  sent_count: number;
  closed_at: string | null;
}

const view = (r: Row): AlertRow => ({
  id: r.id,
  host: r.host,
  event: r.event,
  subject: r.subject,
  message: r.message,
  openedAt: r.opened_at,
  lastSentAt: r.last_sent_at,
  sentCount: r.sent_count,
  closedAt: r.closed_at,
});

/** The alert tables of a ledger. Callers pass only redacted text. */
export class AlertLedger {
  constructor(private readonly db: Database.Database) {}

  /**
   * The open problem (host, event, subject), opened now if there is none; an
   * open one takes the newer `message`. `opened` says which happened.
   */
  openProblem(p: { host: string; event: string; subject: string; message: string }, now: Date): { alert: AlertRow; opened: boolean } {
    return this.db.transaction(() => {
      const open = this.db.prepare("SELECT * FROM alerts WHERE host = ? AND event = ? AND subject = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1").get(p.host, p.event, p.subject) as Row | undefined;
      if (open) {
        this.db.prepare("UPDATE alerts SET message = ? WHERE id = ?").run(p.message, open.id);
        return { alert: view({ ...open, message: p.message }), opened: false };
      }
      const id = Number(this.db.prepare("INSERT INTO alerts(host, event, subject, message, opened_at) VALUES (?, ?, ?, ?, ?)").run(p.host, p.event, p.subject, p.message, now.toISOString()).lastInsertRowid);
      return { alert: view(this.db.prepare("SELECT * FROM alerts WHERE id = ?").get(id) as Row), opened: true };
    })();
  }

  /** Open problems of `host` (of `event` when given), oldest first. */
  openProblems(host: string, event?: string): AlertRow[] {
    const rows = (
      event === undefined
        ? this.db.prepare("SELECT * FROM alerts WHERE host = ? AND closed_at IS NULL ORDER BY id").all(host)
        : this.db.prepare("SELECT * FROM alerts WHERE host = ? AND event = ? AND closed_at IS NULL ORDER BY id").all(host, event)
    ) as Row[];
    return rows.map(view);
  }

  /** Every alert row, newest first, open ones and closed ones (`controller status`, tests). */
  list(limit = 100): AlertRow[] {
    return (this.db.prepare("SELECT * FROM alerts ORDER BY id DESC LIMIT ?").all(limit) as Row[]).map(view);
  }

  /** Closes a problem (it recovered). */
  close(id: number, now: Date): void {
    this.db.prepare("UPDATE alerts SET closed_at = ? WHERE id = ? AND closed_at IS NULL").run(now.toISOString(), id);
  }

  /** When `notifier` was last sent problem `id`, or undefined. */
  lastSentTo(id: number, notifier: string): string | undefined {
    const row = this.db.prepare("SELECT last_sent_at AS t FROM alert_deliveries WHERE alert_id = ? AND notifier = ?").get(id, notifier) as { t: string } | undefined;
    return row?.t;
  }

  /** The notifiers problem `id` was sent to. */
  sentTo(id: number): string[] {
    return (this.db.prepare("SELECT notifier FROM alert_deliveries WHERE alert_id = ? ORDER BY notifier").all(id) as { notifier: string }[]).map((r) => r.notifier);
  }

  /**
   * Claims a send of problem `id` to `notifier` at `now` (before the request, so
   * two raises of one problem never both send). `release` undoes the claim when
   * the delivery failed, so that the next raise tries again.
   */
  claimSend(id: number, notifier: string, now: Date): { release(): void } {
    const previous = this.lastSentTo(id, notifier);
    const t = now.toISOString();
    this.db.transaction(() => {
      this.db
        .prepare("INSERT INTO alert_deliveries(alert_id, notifier, last_sent_at, sent_count) VALUES (?, ?, ?, 1) ON CONFLICT(alert_id, notifier) DO UPDATE SET last_sent_at = excluded.last_sent_at, sent_count = sent_count + 1")
        .run(id, notifier, t);
      this.db.prepare("UPDATE alerts SET last_sent_at = ?, sent_count = sent_count + 1 WHERE id = ?").run(t, id);
    })();
    return {
      release: () => {
        this.db.transaction(() => {
          if (previous === undefined) this.db.prepare("DELETE FROM alert_deliveries WHERE alert_id = ? AND notifier = ?").run(id, notifier);
          else this.db.prepare("UPDATE alert_deliveries SET last_sent_at = ?, sent_count = sent_count - 1 WHERE alert_id = ? AND notifier = ?").run(previous, id, notifier);
          this.db.prepare("UPDATE alerts SET sent_count = max(0, sent_count - 1), last_sent_at = (SELECT max(last_sent_at) FROM alert_deliveries WHERE alert_id = ?) WHERE id = ?").run(id, id);
        })();
      },
    };
  }
}
