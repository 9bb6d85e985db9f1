//! What the ledger checks on its own side of the database: numbers out of range and stream heads
//! that disagree with their events are errors, never a silently wrong version.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use tokenbot_ledger::{GrantKind, LedgerError, Position, StreamId, StreamVersion, Tokens};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_versions_and_positions_are_refused_at_the_edge() {
    let t = ledger().await;
    let client = t.writer_pool().get().await.expect("client");
    let row = client
        .query_one("SELECT (-1)::int8, 7::int8", &[])
        .await
        .expect("select");
    let version = row
        .try_get::<_, StreamVersion>(0)
        .map_err(LedgerError::from);
    assert!(
        matches!(version, Err(LedgerError::OutOfRange(_))),
        "{version:?}"
    );
    let position = row.try_get::<_, Position>(0).map_err(LedgerError::from);
    assert!(
        matches!(position, Err(LedgerError::OutOfRange(_))),
        "{position:?}"
    );
    assert_eq!(
        row.try_get::<_, StreamVersion>(1).ok(),
        Some(StreamVersion(7))
    );
    assert_eq!(row.try_get::<_, Position>(1).ok(), Some(Position(7)));
    let sent = client
        .query_one("SELECT $1::int8", &[&Position(-3)])
        .await
        .map_err(LedgerError::from);
    assert!(matches!(sent, Err(LedgerError::OutOfRange(_))), "{sent:?}");
    let huge = client
        .query_one("SELECT $1::int8", &[&StreamVersion(u64::MAX)])
        .await
        .map_err(LedgerError::from);
    assert!(matches!(huge, Err(LedgerError::OutOfRange(_))), "{huge:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_disagrees_with_its_events_is_refused_not_trusted() {
    let t = ledger().await;
    let u = user(3101);
    open_with(&t.ledger, u, 500).await;
    let grants = count_events(&t.db, "TokensGranted").await;
    // The head claims three events the stream does not have, and no snapshot vouches for it.
    t.db.pool()
        .get()
        .await
        .expect("owner")
        .execute(
            "UPDATE ledger.streams SET version = version + 3, snapshot = NULL WHERE stream_id = $1",
            &[&StreamId::account(u).as_str()],
        )
        .await
        .expect("a head ahead of its events");

    let read = t.ledger.account(u).await;
    assert!(matches!(read, Err(LedgerError::Corrupt { .. })), "{read:?}");
    // Under the lock too: the grant is refused rather than numbered after the head, which would
    // leave a hole of three versions in the stream.
    let grant = t
        .ledger
        .grant(&system(), u, Tokens::from_const(5), GrantKind::Admin, None)
        .await;
    assert!(
        matches!(grant, Err(LedgerError::Corrupt { .. })),
        "{grant:?}"
    );
    assert_eq!(count_events(&t.db, "TokensGranted").await, grants);
    // The events themselves still read, in order and without a hole.
    let history = t
        .ledger
        .history(u, StreamVersion(1), 10)
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
}

/// A command the ledger does not ship, defined here the way a new file in
/// `ledger/src/command/` would define one: nothing else is needed to run it.
mod note {
    use serde::{Deserialize, Serialize};
    use tokenbot_ledger::command::{Command, Output, View, fingerprint};
    use tokenbot_ledger::events::TaskDelivered;
    use tokenbot_ledger::{Event, ExpectedVersion, LedgerConfig, LedgerError, StreamId};

    /// Appends a note to a stream of no aggregate.
    pub struct Note {
        pub stream: StreamId,
        pub text: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Noted {
        pub version_before: u64,
        pub text: String,
    }

    impl Output for Noted {
        const STORED_AS: &'static str = "Noted";
    }

    impl Command for Note {
        const NAME: &'static str = "test_note";
        type Output = Noted;

        fn streams(&self) -> Vec<StreamId> {
            vec![self.stream.clone()]
        }

        fn fingerprint(&self) -> Vec<u8> {
            fingerprint(Self::NAME, &(&self.stream, &self.text))
        }

        fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<Noted, LedgerError> {
            let expected = view.current(&self.stream);
            let ExpectedVersion::Exact(before) = expected else {
                return Err(LedgerError::EmptyAppend);
            };
            let note = Event::TaskDelivered(TaskDelivered {
                telegram_file_id: self.text.clone(),
            });
            view.append_given(&self.stream, expected, vec![note])?;
            Ok(Noted {
                version_before: before.0,
                text: self.text.clone(),
            })
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_from_outside_the_ledger_runs_and_replays_in_its_own_type() {
    use note::{Note, Noted};
    use tokenbot_ledger::IdempotencyKey;

    let t = ledger().await;
    let stream = StreamId::custom("note-1").expect("valid");
    let note = |text: &str| Note {
        stream: stream.clone(),
        text: text.into(),
    };
    let first = t.ledger.execute(&system(), note("a")).await.expect("first");
    assert_eq!(
        first.value,
        Noted {
            version_before: 0,
            text: "a".into()
        }
    );
    assert_eq!(first.positions.len(), 1);

    let keyed = system().with_key(IdempotencyKey::parse("note:b").expect("key"));
    // Two at once under one key (usually one batch), then once more (a later transaction).
    let (b1, b2) = tokio::join!(
        t.ledger.execute(&keyed, note("b")),
        t.ledger.execute(&keyed, note("b"))
    );
    let (b1, b2) = (b1.expect("b1"), b2.expect("b2"));
    let again = t.ledger.execute(&keyed, note("b")).await.expect("again");
    for done in [&b1, &b2, &again] {
        assert_eq!(done.value, b1.value);
        assert_eq!(done.positions, b1.positions);
    }
    assert_eq!(b1.value.version_before, 1);
    assert_eq!(
        [b1.replayed, b2.replayed, again.replayed]
            .iter()
            .filter(|r| **r)
            .count(),
        2
    );
    let conflict = t.ledger.execute(&keyed, note("c")).await;
    assert!(
        matches!(conflict, Err(LedgerError::IdempotencyConflict { .. })),
        "{conflict:?}"
    );
    let stored = t
        .ledger
        .store()
        .read_stream(&stream, StreamVersion(1), 10)
        .await
        .expect("read");
    assert_eq!(stored.len(), 2, "one note, and one for the key");
}
