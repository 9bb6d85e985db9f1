//! How a worker process behaves. Parsed from the environment by the binary; tests build it
//! directly.

use std::time::Duration;

use tokenbot_ledger::bus::BusConfig;

/// Everything a worker process needs to know besides its connections: where the tasks come from,
/// how many run at once, and every limit and pause of a task's journey.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The JetStream stream and subjects the relay publishes `TaskRequested` on.
    pub bus: BusConfig,
    /// Durable JetStream consumer; every worker process sharing it shares the work.
    pub consumer: String,
    /// Tasks one process runs at once (WORKER_CONCURRENCY).
    pub concurrency: usize,
    /// Pause before attempt 2, 3, ... (TASK_RETRY_DELAYS_S); the last entry repeats.
    pub retry_delays: Vec<Duration>,
    /// How long a started attempt belongs to its worker. Longer than one provider call plus a
    /// delivery, so a live worker never loses its task to another; a dead worker's task is taken
    /// over once it passes.
    pub lease: Duration,
    /// How long JetStream waits for an ack or a progress signal before it redelivers a message:
    /// how soon a crashed worker's task comes back.
    pub ack_wait: Duration,
    /// Largest source image an edit downloads from Telegram (the Bot API serves up to 20 MB).
    pub max_source_bytes: u64,
    /// Times a finished image is offered to Telegram before the task is refunded as undeliverable.
    pub max_delivery_attempts: u32,
    /// Name written into `TaskStarted`, for operators reading a task's history.
    pub worker_id: String,
    /// How long a paid task may sit with nobody working on it (pending with no attempt running,
    /// an attempt whose lease ran out, a finished image not delivered) before the sweeper takes
    /// it up (TASK_STALL_S). Longer than any retry delay, so the bus always gets its turn first.
    pub task_stall: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            bus: BusConfig::default(),
            consumer: "worker".into(),
            concurrency: 8,
            retry_delays: vec![Duration::from_secs(10), Duration::from_secs(30)],
            lease: Duration::from_secs(300),
            ack_wait: Duration::from_secs(30),
            max_source_bytes: 20 * 1024 * 1024,
            max_delivery_attempts: 5,
            worker_id: default_worker_id(),
            task_stall: Duration::from_secs(120),
        }
    }
}

impl WorkerConfig {
    /// The pause after failed attempt `attempt` (1-based).
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let i = (attempt.max(1) - 1) as usize;
        self.retry_delays
            .get(i)
            .or(self.retry_delays.last())
            .copied()
            .unwrap_or_default()
    }

    /// How often the sweeper looks for stalled tasks and the open-task age is measured: a
    /// quarter of the stall time, within [`SWEEP_INTERVAL_MIN`, `SWEEP_INTERVAL_MAX`].
    pub fn sweep_interval(&self) -> Duration {
        (self.task_stall / 4).clamp(SWEEP_INTERVAL_MIN, SWEEP_INTERVAL_MAX)
    }

    /// The longest a delivery can legitimately take: every try may run to the Bot API client's
    /// timeout, with the retry pauses between tries. A finished image counts as stalled only
    /// this long plus the stall time after `TaskSucceeded`, so the sweeper does not send it
    /// while its worker is still trying (Telegram's own flood-control pauses are not bounded;
    /// see docs/operations.md).
    pub fn delivery_budget(&self) -> Duration {
        let tries = self.max_delivery_attempts.max(1);
        let pauses: Duration = (1..tries).map(|t| self.retry_delay(t)).sum();
        pauses + TELEGRAM_REQUEST_TIMEOUT * tries
    }

    /// The longest a paid task can legitimately stay open: every attempt may run its whole
    /// lease and wait its retry delay, the delivery may take its budget, and a stalled task is
    /// noticed within the stall time and one sweep. An older open task means something is
    /// wrong: `/health` reports degraded.
    pub fn open_task_bound(&self, max_attempts: u32) -> Duration {
        let attempts = max_attempts.max(1);
        let waits: Duration = (1..attempts).map(|a| self.retry_delay(a)).sum();
        self.lease * attempts
            + waits
            + self.delivery_budget()
            + self.task_stall
            + self.sweep_interval()
    }
}

/// Lower bound of [`WorkerConfig::sweep_interval`]: short stall times in tests must not make the
/// sweeper spin on the database.
pub const SWEEP_INTERVAL_MIN: Duration = Duration::from_millis(100);
/// Upper bound of [`WorkerConfig::sweep_interval`]: a long stall time must not leave a stalled
/// task waiting much longer than it.
pub const SWEEP_INTERVAL_MAX: Duration = Duration::from_secs(30);

/// teloxide's default HTTP client gives up on a Bot API request after this long.
pub const TELEGRAM_REQUEST_TIMEOUT: Duration = Duration::from_secs(17);

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
    format!("{host}-{}", std::process::id())
}

/// Parses TASK_RETRY_DELAYS_S: comma-separated seconds, fractions allowed ("10,30", "0.1,0.2").
pub fn parse_retry_delays(raw: &str) -> Result<Vec<Duration>, String> {
    raw.split(',')
        .map(|part| {
            let part = part.trim();
            part.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && (0.0..=3600.0).contains(s))
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{part:?} is not a number of seconds from 0 to 3600"))
        })
        .collect()
}

/// Checks TASK_STALL_S against the retry delays: the sweeper must not take up a task that is
/// only waiting out its pause between attempts.
pub fn validate_task_stall(task_stall: Duration, retry_delays: &[Duration]) -> Result<(), String> {
    let longest = retry_delays.iter().max().copied().unwrap_or_default();
    if task_stall <= longest {
        return Err(format!(
            "it must be longer than the longest retry delay ({} s), or the sweeper would run tasks that are waiting out a pause between attempts",
            longest.as_secs_f64()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_parse_and_the_last_repeats() {
        let d = parse_retry_delays("10, 30").expect("valid");
        let c = WorkerConfig {
            retry_delays: d,
            ..Default::default()
        };
        assert_eq!(c.retry_delay(1), Duration::from_secs(10));
        assert_eq!(c.retry_delay(2), Duration::from_secs(30));
        assert_eq!(c.retry_delay(7), Duration::from_secs(30));
        assert!(parse_retry_delays("10,x").is_err());
        assert!(parse_retry_delays("-1").is_err());
        assert_eq!(
            parse_retry_delays("0.25").expect("valid"),
            vec![Duration::from_millis(250)]
        );
    }

    #[test]
    fn the_stall_time_outlasts_every_retry_delay_and_sets_the_bounds() {
        let delays = [Duration::from_secs(10), Duration::from_secs(30)];
        assert!(validate_task_stall(Duration::from_secs(30), &delays).is_err());
        assert!(validate_task_stall(Duration::from_secs(31), &delays).is_ok());
        let c = WorkerConfig {
            retry_delays: delays.to_vec(),
            lease: Duration::from_secs(180),
            max_delivery_attempts: 5,
            task_stall: Duration::from_secs(120),
            ..Default::default()
        };
        assert_eq!(c.sweep_interval(), Duration::from_secs(30));
        // Pauses 10 + 30 + 30 + 30 between five tries of at most 17 s each.
        assert_eq!(c.delivery_budget(), Duration::from_secs(100 + 5 * 17));
        // Three leases, two retry delays, the delivery, the stall time and one sweep.
        assert_eq!(
            c.open_task_bound(3),
            Duration::from_secs(3 * 180 + 40 + 185 + 120 + 30)
        );
        let quick = WorkerConfig {
            task_stall: Duration::from_millis(200),
            ..c
        };
        assert_eq!(quick.sweep_interval(), Duration::from_millis(100));
    }
}
