//! Progress bars for long runs: drawn on a terminal (stderr) only. Piped or redirected, nothing
//! is drawn, and stdout (reports, JSON) never carries one.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether a bar would be seen: callers skip the work of counting a total when it would not.
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar of `total` steps labelled `what`, drawn on stderr when it is a terminal.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// A bar when on a terminal, else a hidden one (every call on it does nothing).
pub fn bar_if_terminal(total: Option<u64>, what: &str) -> ProgressBar {
    match total {
        Some(total) if on_terminal() => bar(total, what),
        _ => ProgressBar::hidden(),
    }
}

/// The number of events in the log, as a bar's total, counted only when a bar would be drawn.
pub async fn events_total(pool: &deadpool_postgres::Pool) -> anyhow::Result<Option<u64>> {
    if !on_terminal() {
        return Ok(None);
    }
    let client = pool.get().await?;
    let n: i64 = client
        .query_one("SELECT count(*) FROM ledger.events", &[])
        .await?
        .try_get(0)?;
    Ok(Some(tokenbot_ledger::OutOfRange::count("event count", n)?))
}
