//! What a [`PgProxy`](crate::PgProxy) counted of its clients' traffic.

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
