//! What the ledger checks on its own side of the database: numbers out of range and stream heads
//! that disagree with their events are errors, never a silently wrong version.

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
