//! Logging: human-readable by default, JSON lines with LOG_FORMAT=json, filtered by RUST_LOG or
//! LOG_LEVEL (the original's name), both validated with the rest of the configuration.

use tracing_subscriber::EnvFilter;

use crate::configuration::LogSettings;

/// Installs the global subscriber, writing to stderr. The filter was validated with the
/// settings; should it still not parse, logging falls back to `warn` rather than to nothing.
pub fn init(log: &LogSettings) {
    let filter = EnvFilter::builder()
        .parse(&log.filter)
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init`: a second call (tests, a library user with its own subscriber) keeps the first.
    if log.json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
