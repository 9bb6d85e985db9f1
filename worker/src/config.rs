//! How a worker process behaves. Parsed from the environment by the binary; tests build it
//! directly.

use std::time::Duration;

use tokenbot_ledger::bus::BusConfig;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
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
}

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
}
