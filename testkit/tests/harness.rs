//! The harness itself, against the real servers it hands out.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::time::Duration;

use tokenbot_testkit::{OwnedNats, TestDatabase, TestNats, admin_client};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

fn host_port(url: &str) -> &str {
    url.strip_prefix("nats://").expect("nats:// URL")
}

/// The first line a NATS server sends on a new connection.
async fn first_line(url: &str) -> String {
    let stream = TcpStream::connect(host_port(url)).await.expect("connect");
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        BufReader::new(stream).read_line(&mut line),
    )
    .await
    .expect("INFO within 5 s")
    .expect("read");
    line
}

async fn database_exists(name: &str) -> bool {
    admin_client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .expect("query pg_database")
        .get::<_, i64>(0)
        == 1
}

#[tokio::test]
async fn two_databases_are_distinct_and_both_usable() {
    let (a, b) = tokio::join!(TestDatabase::create(), TestDatabase::create());
    assert_ne!(a.name(), b.name());
    assert_ne!(a.url(), b.url());
    assert!(a.name().starts_with("tb_test_"), "{}", a.name());

    for (db, value) in [(&a, "in a"), (&b, "in b")] {
        let client = db.pool().get().await.expect("pooled connection");
        client
            .batch_execute("CREATE TABLE t (v text NOT NULL)")
            .await
            .expect("create table");
        client
            .execute("INSERT INTO t (v) VALUES ($1)", &[&value])
            .await
            .expect("insert");
        let current: String = client
            .query_one("SELECT current_database()", &[])
            .await
            .expect("current_database")
            .get(0);
        assert_eq!(current, db.name());
    }
    for (db, value) in [(&a, "in a"), (&b, "in b")] {
        let client = db.pool().get().await.expect("pooled connection");
        let rows: Vec<String> = client
            .query("SELECT v FROM t", &[])
            .await
            .expect("select")
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(rows, [value], "each database sees only its own row");
    }
}

#[tokio::test]
async fn dropping_removes_the_database_even_with_open_connections() {
    let db = TestDatabase::create().await;
    let name = db.name().to_string();
    assert!(database_exists(&name).await);
    let pool = db.pool();
    let _open = pool.get().await.expect("pooled connection");

    drop(db);

    assert!(!database_exists(&name).await, "{name} is still there");
}

#[tokio::test]
async fn test_nats_answers_with_info_and_gives_unique_prefixes() {
    let (one, two) = tokio::join!(TestNats::start(), TestNats::start());
    assert_eq!(one.url(), two.url(), "one shared server per process");
    assert_ne!(one.prefix(), two.prefix());
    assert_eq!(one.prefix().len(), 9);
    assert!(one.prefix().starts_with('t'));
    assert!(one.prefix()[1..].chars().all(|c| c.is_ascii_hexdigit()));

    let line = first_line(one.url()).await;
    assert!(line.starts_with("INFO {"), "{line}");
}

#[tokio::test]
async fn owned_nats_stops_and_starts_on_the_same_port() {
    let mut nats = OwnedNats::spawn().await;
    let url = nats.url().to_string();
    assert!(first_line(&url).await.starts_with("INFO"));

    nats.stop().await;
    let refused = TcpStream::connect(host_port(&url)).await;
    assert_eq!(
        refused.expect_err("connect after stop").kind(),
        ErrorKind::ConnectionRefused
    );

    nats.start().await;
    assert_eq!(nats.url(), url, "same URL after restart");
    let line = first_line(&url).await;
    assert!(line.starts_with("INFO"), "{line}");
    assert!(line.contains("\"jetstream\":true"), "{line}");
}
