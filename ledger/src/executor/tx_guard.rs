//! The batch's connection while its transaction is open.

/// Rolls back on drop unless committed, so an error or a cancelled future never returns a
/// connection to the pool in the middle of a transaction.
pub(super) struct TxGuard(Option<deadpool_postgres::Object>);

impl TxGuard {
    /// Guards a connection on which `BEGIN` is about to be sent.
    pub(super) fn new(client: deadpool_postgres::Object) -> Self {
        Self(Some(client))
    }

    /// The connection.
    pub(super) fn client(&self) -> &deadpool_postgres::Object {
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("the guard holds its client until dropped"))
    }

    /// The transaction is over (committed): the connection goes back to the pool as it is.
    pub(super) fn finish(mut self) -> Option<deadpool_postgres::Object> {
        self.0.take()
    }

    /// Closes the connection without a ROLLBACK: after a lost COMMIT the server must see it
    /// gone, and the connection must never serve anyone again.
    pub(super) fn discard(mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Drop for TxGuard {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                if let Err(e) = client.batch_execute("ROLLBACK").await {
                    tracing::warn!(error = %e, "rollback failed; discarding the connection");
                    let _ = deadpool_postgres::Object::take(client);
                }
            });
        }
    }
}
