//! The updates between the offset confirmed to Telegram and the newest one received: which of
//! them were handled, which are being handled, and which wait for a retry.

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

/// The offset is the lowest update id not yet handled, or one past the newest received when
/// all are; everything below it is confirmed by the next getUpdates. Only updates at or above it
/// are remembered, and getUpdates returns at most [`super::GET_UPDATES_LIMIT`] from there, so
/// this holds at most that many.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// One past the newest update received; 0 before the first.
    next: i32,
    /// Handled updates at or above the offset.
    handled: BTreeSet<i32>,
    /// Updates received and not handled yet.
    unsettled: BTreeMap<i32, Pending>,
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
            if id < offset || self.handled.contains(&id) {
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

    /// Records what became of an update handed out by [`Window::receive`].
    pub fn settle(&mut self, s: Settled) {
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
