//! Reads of the read models for the read endpoints: a connection of the read pool (a replica's
//! when `READ_DATABASE_URL` is set, else the primary's), one read-only snapshot per request, and
//! the projections' checkpoint read in that same snapshot, so the answer says which event it is
//! as of (see [`AsOf`]). Nothing that writes or decides about money reads through here.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use deadpool_postgres::tokio_postgres::IsolationLevel;
use deadpool_postgres::{Object, Transaction};
use tokenbot_projections::Projection;
use tokenbot_projections::as_of::{AsOf, as_of};

use crate::error::ApiError;
use crate::state::AdminState;

/// A connection of the read pool, taken for one request.
pub struct ReadClient(Object);

impl FromRequestParts<AdminState> for ReadClient {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AdminState) -> Result<Self, ApiError> {
        Ok(Self(state.read_pool().get().await?))
    }
}

impl ReadClient {
    /// A read-only `REPEATABLE READ` transaction (allowed on a hot standby): every query of the
    /// request and the checkpoint it reports see one snapshot.
    pub async fn snapshot(&mut self) -> Result<Snapshot<'_>, ApiError> {
        let tx = self
            .0
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| ApiError::unavailable(format!("read database: {e}")))?;
        Ok(Snapshot(tx))
    }
}

/// One snapshot of the read models.
pub struct Snapshot<'a>(Transaction<'a>);

impl Snapshot<'_> {
    /// What the queries run on.
    pub fn client(&self) -> &Transaction<'_> {
        &self.0
    }

    /// The checkpoint the data read so far is as of, then the end of the snapshot.
    pub async fn as_of(self) -> Result<AsOf, ApiError> {
        let as_of = as_of(&self.0, &Projection::ALL).await?;
        // Read-only: committing only ends the snapshot early rather than at the drop.
        self.0
            .commit()
            .await
            .map_err(|e| ApiError::unavailable(format!("read database: {e}")))?;
        Ok(as_of)
    }
}
