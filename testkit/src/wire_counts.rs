//! What a [`PgProxy`](crate::PgProxy) counts of its clients' traffic.

use std::sync::atomic::{AtomicU64, Ordering};

/// What clients sent through a proxy (see [`PgProxy::wire_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireCounts {
    /// Each `Sync` of the extended protocol and each simple `Query`: what the server answers
    /// with a `ReadyForQuery` (tokio-postgres prepares an unnamed statement in an exchange of
    /// its own before running it).
    pub exchanges: u64,
    /// Exchanges begun while none was outstanding on their connection: the waits a client
    /// sits through (exchanges it pipelines behind another do not add one).
    pub round_trips: u64,
    /// Statements run: `Execute` messages and simple queries.
    pub statements: u64,
    /// Statements prepared (`Parse` messages).
    pub prepares: u64,
}

impl std::ops::Sub for WireCounts {
    type Output = WireCounts;
    fn sub(self, earlier: WireCounts) -> WireCounts {
        WireCounts {
            exchanges: self.exchanges.saturating_sub(earlier.exchanges),
            round_trips: self.round_trips.saturating_sub(earlier.round_trips),
            statements: self.statements.saturating_sub(earlier.statements),
            prepares: self.prepares.saturating_sub(earlier.prepares),
        }
    }
}

/// The proxy's running counts, shared by its connections.
#[derive(Default)]
pub(crate) struct WireCounters {
    exchanges: AtomicU64,
    round_trips: AtomicU64,
    statements: AtomicU64,
    prepares: AtomicU64,
}

impl WireCounters {
    /// Counts a client message by its type byte; `outstanding` is its connection's count of
    /// exchanges not answered yet (the proxy lowers it at each `ReadyForQuery`).
    pub(crate) fn count(&self, kind: u8, outstanding: &mut u64) {
        match kind {
            b'E' => {
                self.statements.fetch_add(1, Ordering::Relaxed);
            }
            b'P' => {
                self.prepares.fetch_add(1, Ordering::Relaxed);
            }
            // Each is answered by one ReadyForQuery, which the client waits for.
            b'S' | b'Q' => {
                if kind == b'Q' {
                    self.statements.fetch_add(1, Ordering::Relaxed);
                }
                self.exchanges.fetch_add(1, Ordering::Relaxed);
                if *outstanding == 0 {
                    self.round_trips.fetch_add(1, Ordering::Relaxed);
                }
                *outstanding += 1;
            }
            _ => {}
        }
    }

    pub(crate) fn snapshot(&self) -> WireCounts {
        WireCounts {
            exchanges: self.exchanges.load(Ordering::SeqCst),
            round_trips: self.round_trips.load(Ordering::SeqCst),
            statements: self.statements.load(Ordering::SeqCst),
            prepares: self.prepares.load(Ordering::SeqCst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_exchanges_are_one_round_trip() {
        let c = WireCounters::default();
        let mut outstanding = 0;
        // An uncached query: Parse/Describe/Sync, then Bind/Execute/Sync after the answer.
        for kind in [b'P', b'D', b'S'] {
            c.count(kind, &mut outstanding);
        }
        outstanding -= 1;
        for kind in [b'B', b'E', b'S'] {
            c.count(kind, &mut outstanding);
        }
        outstanding -= 1;
        // BEGIN and a prepared statement pipelined behind it.
        for kind in [b'Q', b'B', b'E', b'S'] {
            c.count(kind, &mut outstanding);
        }
        let n = c.snapshot();
        assert_eq!(
            (n.exchanges, n.round_trips, n.statements, n.prepares),
            (4, 3, 3, 1)
        );
        assert_eq!((n - n).round_trips, 0);
    }
}
