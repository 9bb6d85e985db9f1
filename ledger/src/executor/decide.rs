//! Step 3 of a batch: decide each command in arrival order, each on the state the previous ones
//! left. A refused command leaves the state as it was; a command whose key another transaction
//! or an earlier command of the batch used is not decided at all.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::read::Keys;
use super::submission::Pending;
use crate::command::View;
use crate::command::view::{Decided, Locked};
use crate::error::LedgerError;
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;

/// What became of each command of the batch before writing.
pub(super) enum Decision {
    /// Decided: the events it appends, and its outcome as stored with its key (if it has one).
    Decided {
        appended: Vec<Decided>,
        stored: Option<serde_json::Value>,
    },
    /// A rule (or its expected version) said no: nothing of it is written.
    Refused(LedgerError),
    /// Its key was used by an earlier transaction: answered from the stored result.
    Replay,
    /// Its key is also used by an earlier command of this batch.
    SameKeyAs(usize),
}

/// Step 3: every command's decision.
pub(super) fn decide_all(
    batch: &mut [Box<dyn Pending>],
    keys: &Keys,
    claimed: &HashSet<String>,
    states: &mut HashMap<StreamId, Locked>,
    now: DateTime<Utc>,
    config: &LedgerConfig,
) -> Vec<Decision> {
    let mut decisions = Vec::with_capacity(batch.len());
    for (i, s) in batch.iter_mut().enumerate() {
        let keyed = match (keys.owner[i], &s.ctx().idempotency_key) {
            (Some(first), _) if first != i => {
                decisions.push(Decision::SameKeyAs(first));
                continue;
            }
            (_, Some(k)) if !claimed.contains(k.as_str()) => {
                decisions.push(Decision::Replay);
                continue;
            }
            (owner, _) => owner.is_some(),
        };
        let mut view = View::new(states, now);
        decisions.push(match s.decide(&mut view, config, keyed) {
            Ok(stored) => Decision::Decided {
                appended: view.keep(),
                stored,
            },
            Err(e) => Decision::Refused(e),
        });
    }
    decisions
}
