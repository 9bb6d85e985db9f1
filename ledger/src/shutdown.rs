//! One shutdown signal shared by every role in the process (relay, projector, worker, bot, HTTP):
//! each loop selects on it, stops taking new work, and finishes what it holds.

pub use tokio_util::sync::CancellationToken as Shutdown;
