//! The updates between the offset confirmed to Telegram and the newest one received: which of
//! them were handled, which are being handled, and which wait for a retry; and the updates
//! parked in the inbox, confirmed while still unhandled.

use std::collections::{BTreeMap, BTreeSet};

use teloxide::types::Update;

use crate::app::Retry;

/// What happened to one update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Settled {
    pub id: i32,
    /// False: it failed transiently, or waited behind such a failure of its chat.
    pub handled: bool,
}

/// An update received and not handled yet.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Pending {
    /// Failed attempts so far.
    attempts: u32,
    /// Handed to its chat and not settled yet: getUpdates returns it again meanwhile (it is
    /// above the offset), and it must not be handled twice.
    in_flight: bool,
}

/// An update stored in the inbox and confirmed: it no longer holds the offset, and getUpdates
/// will not bring it again, so the window keeps it to hand it out again after a failure.
#[derive(Debug)]
struct Parked {
    update: Update,
    pending: Pending,
}

/// The offset is the lowest update id not yet handled nor parked, or one past the newest
/// received when there is none; everything below it is confirmed by the next getUpdates. Only
/// updates at or above it are remembered, besides the parked ones, and getUpdates returns at
/// most [`super::GET_UPDATES_LIMIT`] from there, so this holds at most that many and the parked.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// One past the newest update received; 0 before the first.
    next: i32,
    /// Handled updates at or above the offset.
    handled: BTreeSet<i32>,
    /// Updates received and not handled yet (the parked ones aside).
    unsettled: BTreeMap<i32, Pending>,
    /// Updates in the inbox, not handled yet.
    parked: BTreeMap<i32, Parked>,
}

impl Window {
    pub fn offset(&self) -> i32 {
        self.unsettled.keys().next().copied().unwrap_or(self.next)
    }

    /// The updates to handle now, each with whether it is tried again: the received ones that
    /// are neither handled nor in flight, and not `held` (their chat waits for a retry pause;
    /// they stay unsettled and come back with a later getUpdates).
    pub fn receive(
        &mut self,
        updates: Vec<Update>,
        held: impl Fn(&Update) -> bool,
    ) -> Vec<(Update, Retry)> {
        let mut out = Vec::with_capacity(updates.len());
        // Everything below the offset was handled, and forgotten. A getUpdates sent before the
        // offset moved past them (a long poll) still brings them: they must not count as new.
        let offset = self.offset();
        for u in updates {
            let id = id_of(&u);
            self.next = self.next.max(id.saturating_add(1));
            if id < offset || self.handled.contains(&id) || self.parked.contains_key(&id) {
                continue;
            }
            let pending = self.unsettled.entry(id).or_default();
            if pending.in_flight || held(&u) {
                continue;
            }
            pending.in_flight = true;
            let retry = match pending.attempts {
                0 => Retry::First,
                _ => Retry::Again,
            };
            out.push((u, retry));
        }
        out
    }

    /// Records what became of an update handed out by [`Window::receive`] or
    /// [`Window::parked_to_hand_out`]; true if it was parked and is handled now (its inbox row
    /// can go).
    pub fn settle(&mut self, s: Settled) -> bool {
        if let Some(parked) = self.parked.get_mut(&s.id) {
            if s.handled {
                self.parked.remove(&s.id);
                return true;
            }
            parked.pending.in_flight = false;
            parked.pending.attempts += 1;
            return false;
        }
        if s.handled {
            self.unsettled.remove(&s.id);
            self.handled.insert(s.id);
        } else {
            let pending = self.unsettled.entry(s.id).or_default();
            pending.in_flight = false;
            pending.attempts += 1;
        }
        let offset = self.offset();
        self.handled.retain(|id| *id >= offset);
        false
    }

    /// Of `answer` (a getUpdates answer), the updates received and not handled yet: what would
    /// be parked.
    pub fn unsettled_in(&self, answer: &[Update]) -> Vec<Update> {
        answer
            .iter()
            .filter(|u| self.unsettled.contains_key(&id_of(u)))
            .cloned()
            .collect()
    }

    /// Parks `updates`, now stored in the inbox: the offset passes them. Returns the ids of
    /// those handled meanwhile (their inbox rows can go).
    pub fn park(&mut self, updates: Vec<Update>) -> Vec<i32> {
        let mut done = Vec::new();
        // Below the offset, nothing is unsettled: handled, or parked already.
        let offset = self.offset();
        for update in updates {
            let id = id_of(&update);
            self.next = self.next.max(id.saturating_add(1));
            match self.unsettled.remove(&id) {
                Some(pending) => {
                    self.parked.insert(id, Parked { update, pending });
                }
                // Handled while it was being stored. (An update loaded from the inbox at start
                // is unknown here, above the empty window's offset, and parked.)
                None if id < offset || self.handled.contains(&id) => {
                    if !self.parked.contains_key(&id) {
                        done.push(id);
                    }
                }
                None => {
                    self.parked.insert(
                        id,
                        Parked {
                            update,
                            pending: Pending::default(),
                        },
                    );
                }
            }
        }
        let offset = self.offset();
        self.handled.retain(|id| *id >= offset);
        done
    }

    /// The parked updates not being handled (loaded at start, or failed): each with whether it
    /// is tried again, oldest first; they count as handed out.
    pub fn parked_to_hand_out(&mut self) -> Vec<(Update, Retry)> {
        let mut out = Vec::new();
        for parked in self.parked.values_mut() {
            if parked.pending.in_flight {
                continue;
            }
            parked.pending.in_flight = true;
            let retry = match parked.pending.attempts {
                0 => Retry::First,
                _ => Retry::Again,
            };
            out.push((parked.update.clone(), retry));
        }
        out
    }

    /// How many updates are parked.
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    /// Whether an update received and not parked is not handled yet (the offset waits for it).
    pub fn has_unsettled(&self) -> bool {
        !self.unsettled.is_empty()
    }
}

pub(super) fn id_of(update: &Update) -> i32 {
    i32::try_from(update.id.0).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settles batches of (update id, handled) as `run` would after receiving them.
    fn window_after(batches: &[&[(i32, bool)]]) -> Window {
        let mut w = Window::default();
        for batch in batches {
            for &(id, _) in batch.iter() {
                w.next = w.next.max(id + 1);
                w.unsettled.entry(id).or_default().in_flight = true;
            }
            for &(id, handled) in batch.iter() {
                w.settle(Settled { id, handled });
            }
        }
        w
    }

    #[test]
    fn the_offset_stops_at_the_first_unhandled_update() {
        let w = window_after(&[&[(10, true), (11, false), (12, true), (13, false)]]);
        assert_eq!(w.offset(), 11);
        assert!(w.handled.contains(&12), "12 is not handled again");
        assert!(!w.handled.contains(&10), "below the offset: forgotten");
        assert_eq!(
            w.unsettled.get(&11),
            Some(&Pending {
                attempts: 1,
                in_flight: false
            })
        );

        let w = window_after(&[
            &[(10, true), (11, false), (12, true), (13, false)],
            &[(11, true), (13, true), (14, true)],
        ]);
        assert_eq!(w.offset(), 15);
        assert!(w.handled.is_empty() && w.unsettled.is_empty());
    }

    #[test]
    fn an_update_in_flight_holds_the_offset_and_is_not_handed_out_twice() {
        let mut w = window_after(&[&[(5, true)]]);
        w.next = 8;
        w.unsettled.insert(
            6,
            Pending {
                attempts: 0,
                in_flight: true,
            },
        );
        w.settle(Settled {
            id: 7,
            handled: true,
        });
        assert_eq!(w.offset(), 6, "6 was received and never settled");
        let again = w.receive(vec![update(6), update(7), update(8)], |_| false);
        let ids: Vec<i32> = again.iter().map(|(u, _)| id_of(u)).collect();
        assert_eq!(ids, [8], "6 is in flight, 7 handled: only 8 is new");
    }

    #[test]
    fn a_held_update_stays_unsettled_and_a_failed_one_comes_back_as_a_retry() {
        let mut w = Window::default();
        let first = w.receive(vec![update(1), update(2)], |u| id_of(u) == 2);
        assert_eq!(first.len(), 1);
        assert_eq!(w.offset(), 1);
        w.settle(Settled {
            id: 1,
            handled: false,
        });
        let again = w.receive(vec![update(1), update(2)], |_| false);
        let got: Vec<(i32, Retry)> = again.iter().map(|(u, r)| (id_of(u), *r)).collect();
        assert_eq!(got, [(1, Retry::Again), (2, Retry::First)]);
    }

    #[test]
    fn a_late_answer_to_an_old_poll_does_not_hand_out_what_was_handled_since() {
        let mut w = Window::default();
        let first = w.receive(vec![update(1), update(2)], |_| false);
        assert_eq!(first.len(), 2);
        for id in [1, 2] {
            w.settle(Settled { id, handled: true });
        }
        assert_eq!(w.offset(), 3);
        // A long poll sent with offset 1 answers now, with 1 and 2 and a new one.
        let late = w.receive(vec![update(1), update(2), update(3)], |_| false);
        let ids: Vec<i32> = late.iter().map(|(u, _)| id_of(u)).collect();
        assert_eq!(ids, [3], "1 and 2 were handled: only 3 is new");
        assert_eq!(w.offset(), 3, "the offset does not go back");
    }

    #[test]
    fn a_parked_update_no_longer_holds_the_offset_and_comes_back_only_after_a_failure() {
        let mut w = Window::default();
        let handed = w.receive((1..=4).map(update).collect(), |_| false);
        assert_eq!(handed.len(), 4);
        for id in [3, 4] {
            w.settle(Settled { id, handled: true });
        }
        assert_eq!(w.offset(), 1, "1 and 2 are still being handled");
        let to_park = w.unsettled_in(&(1..=4).map(update).collect::<Vec<_>>());
        let ids: Vec<i32> = to_park.iter().map(id_of).collect();
        assert_eq!(ids, [1, 2], "only the updates not handled yet are parked");

        // 2 is handled while the inbox stores it: its row can go at once.
        w.settle(Settled {
            id: 2,
            handled: true,
        });
        assert_eq!(w.park(to_park), [2]);
        assert_eq!(w.offset(), 5, "the offset passes the parked update");
        assert_eq!(w.parked(), 1);
        assert!(
            w.receive(vec![update(1), update(5)], |_| false)
                .iter()
                .all(|(u, _)| id_of(u) == 5),
            "a late answer does not hand the parked update out twice"
        );
        assert!(w.parked_to_hand_out().is_empty(), "1 is still in flight");

        assert!(!w.settle(Settled {
            id: 1,
            handled: false
        }));
        let again: Vec<(i32, Retry)> = w
            .parked_to_hand_out()
            .iter()
            .map(|(u, r)| (id_of(u), *r))
            .collect();
        assert_eq!(
            again,
            [(1, Retry::Again)],
            "getUpdates will not bring it back"
        );
        assert!(
            w.settle(Settled {
                id: 1,
                handled: true
            }),
            "handled: its inbox row can go"
        );
        assert_eq!(w.parked(), 0);
        assert_eq!(w.offset(), 5);
    }

    #[test]
    fn updates_loaded_from_the_inbox_are_handed_out_and_the_offset_starts_past_them() {
        let mut w = Window::default();
        assert!(w.park(vec![update(7), update(9)]).is_empty());
        assert_eq!(w.offset(), 10);
        let first: Vec<(i32, Retry)> = w
            .parked_to_hand_out()
            .iter()
            .map(|(u, r)| (id_of(u), *r))
            .collect();
        assert_eq!(first, [(7, Retry::First), (9, Retry::First)]);
    }

    fn update(id: i32) -> Update {
        serde_json::from_value(serde_json::json!({
            "update_id": id,
            "message": {
                "message_id": 1, "date": 0,
                "chat": {"id": 1, "type": "private", "first_name": "a"},
                "from": {"id": 1, "is_bot": false, "first_name": "a"},
                "text": "hi"
            }
        }))
        .expect("an update")
    }
}
