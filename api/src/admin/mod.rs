//! `/admin/*` handlers, one file per part of the API: extract, call a query or the ledger, map
//! the result to JSON. Nothing else: validation lives in the extractors and request types, SQL
//! in `tokenbot_projections::queries`, rules in the ledger.

pub mod checkpoints;
pub mod grant;
pub mod overview;
pub mod payments;
pub mod users;
