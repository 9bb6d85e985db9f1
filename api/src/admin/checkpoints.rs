//! `GET /admin/ledger/checkpoints`: the signed checkpoints of the hash chain's head, page by
//! page, from the JetStream stream the relay publishes them on (see `docs/auditing.md`).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tokenbot_ledger::checkpoint::SignedCheckpoint;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::params::{PageLimit, Start};
use crate::state::AdminState;

/// One signed checkpoint of the hash chain's head.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointEntry {
    /// Its place on the checkpoint stream: pass the last one + 1 as `from`.
    pub stream_seq: u64,
    /// Chain `seq` of the head: this many events were sealed.
    pub seq: u64,
    /// `ledger.events.position` of the event at `seq`.
    pub position: i64,
    /// The transaction id of the event at `seq`.
    pub tx_id: u64,
    /// Hex of the chain's hash at `seq`.
    pub head_hash: String,
    /// RFC 3339, microseconds.
    pub signed_at: String,
    /// Hex of the Ed25519 key that signed it.
    pub public_key: String,
    /// Hex of the Ed25519 signature.
    pub signature: String,
}

impl CheckpointEntry {
    fn new(stream_seq: u64, c: SignedCheckpoint) -> Self {
        Self {
            stream_seq,
            seq: c.seq,
            position: c.position,
            tx_id: c.tx_id,
            head_hash: hex::encode(c.head_hash),
            signed_at: c
                .signed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            public_key: hex::encode(c.public_key),
            signature: hex::encode(c.signature),
        }
    }
}

/// A page of checkpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointPage {
    /// The checkpoints, oldest first.
    pub checkpoints: Vec<CheckpointEntry>,
    /// Pass as `from` for the next page; null on the last page.
    pub next_from: Option<u64>,
}

/// `?from=&limit=` of a checkpoint page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    /// First checkpoint stream sequence (default 1).
    #[serde(default)]
    #[param(value_type = Option<u64>, minimum = 1)]
    pub from: Start,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: PageLimit,
}

/// The signed checkpoints, page by page.
#[utoipa::path(get, path = "/admin/ledger/checkpoints", tag = "admin",
    params(CheckpointQuery),
    responses((status = 200, body = CheckpointPage), (status = 400, body = Problem),
              (status = 503, body = Problem)),
    security(("admin_key" = [])))]
pub async fn checkpoints(
    State(state): State<AdminState>,
    ApiQuery(page): ApiQuery<CheckpointQuery>,
) -> Result<Json<CheckpointPage>, ApiError> {
    let Some((js, bus)) = state.inner.checkpoints.get() else {
        return Err(ApiError::unavailable(
            "this process serves no checkpoints (it has no NATS connection)",
        ));
    };
    let (page, next) =
        tokenbot_ledger::checkpoint::read_page(js, bus, page.from.get(), page.limit.get_usize())
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(CheckpointPage {
        checkpoints: page
            .into_iter()
            .map(|(seq, c)| CheckpointEntry::new(seq, c))
            .collect(),
        next_from: next,
    }))
}
