//! Every metric tokenbot exports, in one list: its name (always `tokenbot_...`, the name the call
//! site, `docs/operations.md`, the alert rules and the dashboard use), its kind, its `# HELP`
//! text and, for a histogram, the bucket bounds suited to what it measures. The recorder
//! ([`crate::ops::metrics_handle`]) is configured from this list: histograms are exported with
//! these buckets (so they can be summed across processes, which summaries cannot) and every
//! metric gets its description. `.ci/metrics.py` checks that every name recorded in the code is
//! here and that this list and the tables of `docs/operations.md` name the same metrics.

/// What kind of metric, and a histogram's bucket upper bounds (ascending).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Only goes up; `rate()` it.
    Counter,
    /// A value that is set.
    Gauge,
    /// Observations counted into these buckets (upper bounds, `le`).
    Histogram(&'static [f64]),
}

/// One exported metric.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The exported name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// The `# HELP` line.
    pub help: &'static str,
}

/// Commands per group-commit transaction: the executor takes at most 64
/// (`tokenbot_ledger::executor::MAX_BATCH`), so powers of two up to it.
const BATCH_SIZE: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// One Telegram update: a few Postgres round trips when all is well; seconds when Telegram or
/// the ledger is slow.
const UPDATE_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// An HTTP request: reads of the read models in milliseconds, a grant a batch commit, a webhook
/// an update.
const REQUEST_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// One image request to OpenAI: typically 10-60 s, bounded by `OPENAI_TIMEOUT_S` (at most 600).
const GENERATION_SECONDS: &[f64] = &[
    1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];

const fn counter(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Counter,
        help,
    }
}

const fn gauge(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Gauge,
        help,
    }
}

const fn histogram(name: &'static str, buckets: &'static [f64], help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Histogram(buckets),
        help,
    }
}

/// The build's identity, set to 1 at start with the labels `version`, `git_sha` and `rustc`.
pub const BUILD_INFO: &str = "tokenbot_build_info";

/// Every metric, grouped as `docs/operations.md` groups them.
pub const METRICS: &[Metric] = &[
    gauge(
        BUILD_INFO,
        "Always 1; the labels name the build: version, git_sha (unknown when not given at build time), rustc.",
    ),
    // Ledger.
    counter(
        "tokenbot_ledger_appends_total",
        "Events appended to the ledger.",
    ),
    histogram(
        "tokenbot_ledger_batch_size",
        BATCH_SIZE,
        "Commands per group-commit transaction.",
    ),
    counter(
        "tokenbot_ledger_conflicts_total",
        "Batches that lost a race and were run again.",
    ),
    counter(
        "tokenbot_ledger_commit_outcomes_learned_total",
        "Batches whose COMMIT went unanswered, by what became of them (outcome: committed, aborted, unknown).",
    ),
    counter(
        "tokenbot_ledger_notify_failures_total",
        "NOTIFYs that failed after a committed batch (subscribers poll; only latency suffers).",
    ),
    // Relay.
    gauge(
        "tokenbot_relay_leader",
        "1 while this process leads the relay; 0 once it lost its leader connection.",
    ),
    counter(
        "tokenbot_relay_published_total",
        "Events acknowledged by JetStream.",
    ),
    gauge(
        "tokenbot_relay_lag_seconds",
        "Age of the newest event when JetStream acknowledged it (updated only when something is published).",
    ),
    counter(
        "tokenbot_relay_publish_failures_total",
        "Publish attempts that failed (retried from the first unacknowledged event).",
    ),
    counter(
        "tokenbot_relay_errors_total",
        "Times the relay loop stopped on an error and started over with backoff.",
    ),
    counter(
        "tokenbot_chain_sealed_total",
        "Events sealed into the hash chain by this process.",
    ),
    counter(
        "tokenbot_ledger_checkpoints_published_total",
        "Signed checkpoints published to the checkpoint stream by this process.",
    ),
    // Projector.
    counter(
        "tokenbot_projection_events_total",
        "Events applied to a read model (projection: users, tasks).",
    ),
    gauge(
        "tokenbot_projection_lag_seconds",
        "Age of the newest event of the last batch applied to a read model (projection: users, tasks).",
    ),
    counter(
        "tokenbot_projector_gaps_total",
        "Gaps in the message sequence filled from Postgres.",
    ),
    counter(
        "tokenbot_projector_resyncs_total",
        "Times the stream and the checkpoints disagreed (a batch cut mid-commit, a rebuild) and the projector caught up from Postgres.",
    ),
    counter(
        "tokenbot_projector_parked_total",
        "Undecodable messages terminated (their events are read from Postgres).",
    ),
    counter(
        "tokenbot_projector_nats_errors_total",
        "Times NATS failed and the projector fell back to Postgres.",
    ),
    counter(
        "tokenbot_projector_database_errors_total",
        "Times Postgres failed under the projector.",
    ),
    // Worker.
    counter(
        "tokenbot_worker_attempts_total",
        "Attempts started (TaskStarted).",
    ),
    histogram(
        "tokenbot_worker_generation_seconds",
        GENERATION_SECONDS,
        "Time of one image request to the provider, whatever its outcome.",
    ),
    counter(
        "tokenbot_worker_generations_total",
        "Provider results (outcome: succeeded, retryable_error, refused).",
    ),
    counter(
        "tokenbot_worker_deliveries_total",
        "Images delivered to Telegram and recorded.",
    ),
    counter(
        "tokenbot_worker_refunds_total",
        "Tasks this worker failed and refunded.",
    ),
    counter(
        "tokenbot_worker_parked_total",
        "Task messages terminated and never retried (undecodable, or naming an unknown task).",
    ),
    counter(
        "tokenbot_worker_infra_errors_total",
        "Task steps that failed on Postgres or the result store (the message returns after 2 s).",
    ),
    counter(
        "tokenbot_worker_unknown_outcomes_total",
        "Task steps whose ledger command had an unknown outcome and was sent again under its key.",
    ),
    counter(
        "tokenbot_worker_nats_errors_total",
        "Times the worker lost NATS and reconnected.",
    ),
    counter(
        "tokenbot_worker_pull_requests_lost_total",
        "Pull requests that neither filled nor expired in time (replaced by new ones).",
    ),
    counter(
        "tokenbot_worker_messages_given_back_total",
        "Messages that arrived without a free slot and were handed back at once.",
    ),
    gauge(
        "tokenbot_tasks_oldest_open_age_seconds",
        "Seconds since the oldest paid task that is neither delivered nor failed was requested (0: none).",
    ),
    gauge(
        "tokenbot_sweeper_active",
        "1 in the worker process whose sweeper holds the lock.",
    ),
    counter(
        "tokenbot_sweeper_tasks_total",
        "Stalled tasks the sweeper took up, by the status it found (status).",
    ),
    counter(
        "tokenbot_sweeper_errors_total",
        "Times the sweeper lost its lock connection or could not read the ledger.",
    ),
    // Bot.
    histogram(
        "tokenbot_bot_update_seconds",
        UPDATE_SECONDS,
        "Time to handle one Telegram update.",
    ),
    counter("tokenbot_bot_update_errors_total", "Updates that failed."),
    counter(
        "tokenbot_bot_update_retries_total",
        "Long polling: batches after which transiently failed updates are handled again.",
    ),
    counter(
        "tokenbot_bot_updates_parked_total",
        "Long polling: updates parked in bot.inbox and confirmed before they were handled.",
    ),
    counter(
        "tokenbot_bot_updates_redelivered_total",
        "Updates skipped because they were already handled.",
    ),
    counter(
        "tokenbot_bot_updates_unmarked_total",
        "Updates answered whose handled mark could not be written.",
    ),
    counter(
        "tokenbot_bot_chat_lock_waits_total",
        "Times an update waited because another bot process was handling its chat.",
    ),
    counter(
        "tokenbot_bot_chat_lock_lost_total",
        "Updates whose chat lock was lost with its Postgres session while they were handled.",
    ),
    counter(
        "tokenbot_telegram_retry_after_total",
        "Bot API calls Telegram refused with 429; each is sent again after its retry_after.",
    ),
    counter(
        "tokenbot_bot_tasks_requested_total",
        "Tasks requested (debits) through the bot.",
    ),
    counter(
        "tokenbot_bot_pre_checkout_total",
        "Pre-checkout queries answered (ok: true or false).",
    ),
    counter(
        "tokenbot_bot_purchases_granted_total",
        "Payments in Telegram Stars granted (a receipt sent).",
    ),
    counter(
        "tokenbot_bot_webhook_rejected_total",
        "Webhook requests refused (reason: missing_secret, wrong_secret).",
    ),
    // HTTP.
    counter(
        "tokenbot_http_requests_total",
        "HTTP requests (method, route template, status).",
    ),
    histogram(
        "tokenbot_http_request_duration_seconds",
        REQUEST_SECONDS,
        "HTTP request latency (method, route template).",
    ),
    counter(
        "tokenbot_admin_auth_failures_total",
        "Admin API requests refused for a missing or wrong key.",
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn names_are_prefixed_unique_and_buckets_ascend() {
        let mut seen = BTreeSet::new();
        for m in METRICS {
            assert!(m.name.starts_with("tokenbot_"), "{}", m.name);
            assert!(seen.insert(m.name), "{} twice", m.name);
            assert!(!m.help.is_empty(), "{} has no help", m.name);
            if let Kind::Histogram(b) = m.kind {
                assert!(!b.is_empty(), "{}", m.name);
                assert!(b.windows(2).all(|w| w[0] < w[1]), "{} ascends", m.name);
            }
            if m.kind == Kind::Counter {
                assert!(m.name.ends_with("_total"), "{}", m.name);
            }
        }
    }
}
