//! Issue 15, item 2: a three-node NATS cluster on loopback (the stream with three replicas), two
//! relays, three workers, two projectors and two webhook bots as processes of the real binary,
//! the bots behind a round-robin proxy; seeded users make pictures through them while the relay
//! leader, a worker, a projector, a bot and a NATS node are killed (SIGKILL) and restarted.
//! Afterwards: the standby relay took over within its bound, the stream has every event once and
//! in order, every paid task ended once within its bound, no balance went negative, the
//! projections equal a replay and `ledger verify` is clean.
//!
//! `SCALE_SEED` picks the users' pauses and the faults' order, targets and times.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use tokenbot::cli::bench::scale::fleet::Timers;
use tokenbot::cli::bench::scale::scenario::{self, ScenarioOptions, ScenarioSize};
use tokenbot_testkit::TestDatabase;

const DEFAULT_SEED: u64 = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_survives_a_kill_on_a_nats_cluster() {
    let seed = std::env::var("SCALE_SEED")
        .map(|s| s.parse().expect("SCALE_SEED is a number"))
        .unwrap_or(DEFAULT_SEED);
    let db = TestDatabase::create().await;
    let report = scenario::run(ScenarioOptions {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_tokenbot")),
        database_url: db.url().to_string(),
        seed,
        size: ScenarioSize::default(),
        timers: Timers::default(),
    })
    .await
    .expect("the scenario ran");
    println!("{}", serde_json::to_string_pretty(&report).unwrap());

    assert!(
        report.violations.is_empty(),
        "violations (seed {seed}): {:#?}",
        report.violations
    );
    assert_eq!(report.faults.len(), 5, "one fault of each kind");
    assert_eq!(
        report.relay_takeover_s.len(),
        1,
        "the leader was killed once"
    );
    for t in &report.relay_takeover_s {
        assert!(*t <= report.bounds.takeover_s, "takeover {t} s");
    }
    let tasks = &report.tasks;
    assert!(tasks.requested > 0, "the users paid for pictures");
    assert_eq!(tasks.delivered + tasks.refunded, tasks.requested);
    assert!(tasks.slowest_settle_s <= report.bounds.settle_s);
    let stream = &report.stream;
    assert_eq!((stream.gaps, stream.duplicates), (0, 0));
    assert_eq!(
        stream.messages, stream.events,
        "every event on the stream once"
    );
    assert_eq!(report.negative_balances, 0);
    assert_eq!(report.projection_differences, 0);
    assert_eq!(report.verified_events, stream.events);
    assert_eq!(report.users.given_up, 0);
}
