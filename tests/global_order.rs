//! A subscriber following the global log while 16 writers append, some rolling back and some
//! holding their transaction open for a second, sees every committed event exactly once, in an
//! order that a second reader reproduces and that respects each stream's versions.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokenbot_ledger::subscription::{Subscription, SubscriptionOptions};
use tokenbot_ledger::{LogCursor, RawEvent};
use uuid::Uuid;

const WRITERS: usize = 16;
const TXS_PER_WRITER: usize = 25;

async fn writer(pool: deadpool_postgres::Pool, w: usize, seed: u64) -> HashSet<Uuid> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut committed = HashSet::new();
    let stream = format!("test-w{w}");
    let mut version: i64 = 0;
    for _ in 0..TXS_PER_WRITER {
        let mut client = pool.get().await.expect("client");
        let tx = client.transaction().await.expect("begin");
        let n = rng.random_range(1..=3);
        let mut ids = Vec::new();
        for i in 0..n {
            let id = Uuid::now_v7();
            tx.execute(
                "INSERT INTO ledger.events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata) \
                 VALUES ($1, $2, $3, 'TokensGranted', 1, '{}'::jsonb, '{}'::jsonb)",
                &[&id, &stream, &(version + 1 + i)],
            )
            .await
            .expect("insert");
            ids.push(id);
        }
        let roll: f64 = rng.random();
        if roll < 0.06 {
            // A slow transaction: readers must wait for it, not skip it.
            tx.execute("SELECT pg_sleep(1)", &[]).await.expect("sleep");
        }
        if roll > 0.88 {
            tx.rollback().await.expect("rollback");
        } else {
            tx.commit().await.expect("commit");
            version += n;
            committed.extend(ids);
        }
    }
    committed
}

async fn read_all(sub: &mut Subscription, expected: usize) -> Vec<RawEvent> {
    let mut seen = Vec::with_capacity(expected);
    while seen.len() < expected {
        let batch = tokio::time::timeout(Duration::from_secs(30), sub.next_batch())
            .await
            .expect("the subscriber keeps up")
            .expect("read");
        seen.extend(batch);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_sees_every_committed_event_once_in_a_stable_order() {
    let t = common::ledger().await;
    let store = t.ledger.store().clone();
    let options = SubscriptionOptions {
        batch_size: 7,
        ..Default::default()
    };
    let mut live = Subscription::new(store.clone(), LogCursor::START, options).await;

    let pool = t.db.pool();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(pool.clone(), w, 42 + w as u64)))
        .collect();

    // Read while the writers run, handing batches to the test over a channel.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RawEvent>>(64);
    let reading = tokio::spawn(async move {
        loop {
            let batch = live.next_batch().await.expect("read");
            if tx.send(batch).await.is_err() {
                return;
            }
        }
    });

    let mut committed = HashSet::new();
    for w in writers {
        committed.extend(w.await.expect("writer"));
    }
    let mut seen: Vec<RawEvent> = Vec::new();
    while seen.len() < committed.len() {
        let batch = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("the subscriber keeps up")
            .expect("reader alive");
        seen.extend(batch);
    }
    reading.abort();

    assert_eq!(
        seen.len(),
        committed.len(),
        "exactly once: no duplicates, nothing extra"
    );
    let ids: HashSet<Uuid> = seen.iter().map(|e| e.event_id.as_uuid()).collect();
    assert_eq!(ids, committed, "every committed event, nothing rolled back");
    for pair in seen.windows(2) {
        assert!(
            pair[0].cursor() < pair[1].cursor(),
            "strictly increasing cursor"
        );
    }
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for e in &seen {
        let last = versions.entry(e.stream_id.as_str()).or_insert(0);
        assert_eq!(
            e.version.0,
            *last + 1,
            "stream order inside the global order"
        );
        *last = e.version.0;
    }

    // A reader that starts afterwards sees the same sequence.
    let mut later =
        Subscription::new(store, LogCursor::START, SubscriptionOptions::default()).await;
    let again = read_all(&mut later, committed.len()).await;
    let a: Vec<Uuid> = seen.iter().map(|e| e.event_id.as_uuid()).collect();
    let b: Vec<Uuid> = again.iter().map(|e| e.event_id.as_uuid()).collect();
    assert_eq!(a, b, "stable order");
}
