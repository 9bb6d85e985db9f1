//! Logging: human-readable by default, JSON lines with LOG_FORMAT=json, filtered by RUST_LOG or
//! LOG_LEVEL (the original's name), both validated with the rest of the configuration.

use tracing_subscriber::EnvFilter;

use crate::configuration::LogSettings;

/// The target of start-up and shutdown lines (`tracing::info!(target: LIFECYCLE, ...)`).
pub const LIFECYCLE: &str = "lifecycle";

/// Installs the global subscriber, writing to stderr. The filter was validated with the
/// settings; should it still not parse, logging falls back to `warn` rather than to nothing.
pub fn init(log: &LogSettings) {
    let mut filter = EnvFilter::builder()
        .parse(&log.filter)
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    // Start-up and shutdown lines and the HTTP access log are shown at the default level
    // (`warn`) too: an operator needs them whatever else is filtered. RUST_LOG naming either
    // target decides for it (`RUST_LOG=warn,lifecycle=off`).
    for (target, directive) in [
        (LIFECYCLE, "lifecycle=info"),
        ("tokenbot_api::access_log", "tokenbot_api::access_log=info"),
    ] {
        if !log.filter.contains(target)
            && let Ok(d) = directive.parse()
        {
            filter = filter.add_directive(d);
        }
    }
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
