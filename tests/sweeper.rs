//! The worker's backstop: paid tasks whose message the bus lost are found in the ledger and driven
//! to the end, exactly once, by one sweeper at a time; a sweeper and a consumer on the same tasks
//! never run one twice; an open task older than its bound makes `/health` degraded. Real Postgres
//! and JetStream, fake OpenAI and Telegram.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::pipeline::Pipeline;
use common::*;
use tokenbot_api::{AdminState, OpenTaskAgeCheck, router};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{StreamId, TaskId, TaskStatus};
use tokenbot_worker::WorkerConfig;
use tokenbot_worker::open_tasks;
use tokenbot_worker::results::ResultStore;
use tokenbot_worker::sweeper::SweeperStatus;
use tokio::sync::watch;

const DELIVERED: [&str; 4] = [
    "TaskRequested",
    "TaskStarted",
    "TaskSucceeded",
    "TaskDelivered",
];

async fn pipeline() -> Pipeline {
    Pipeline::start(ledger().await).await
}

/// Waits (bounded) until the relay has stored the task's `TaskRequested` in the stream, then
/// purges the stream: JetStream has lost the message, the ledger still has the paid task.
async fn lose_message(p: &Pipeline, task: TaskId) {
    let stream = p.js.get_stream(&p.bus.stream).await.expect("stream");
    let subject = p.bus.subject("task", "TaskRequested");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stored = stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .ok()
            .and_then(|m| tokenbot_ledger::bus::decode(Some(&m.headers), &m.payload).ok());
        if stored.is_some_and(|b| b.event.stream_id == StreamId::task(task)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay did not publish {task} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stream.purge().await.expect("purge");
    let left = stream.get_last_raw_message_by_subject(&subject).await;
    assert!(left.is_err(), "the stream still has a TaskRequested");
}

async fn passes(status: &mut watch::Receiver<SweeperStatus>, more: u64) {
    let target = status.borrow().passes + more;
    tokio::time::timeout(
        Duration::from_secs(30),
        status.wait_for(|s| s.passes >= target),
    )
    .await
    .expect("the sweeper keeps making passes")
    .expect("sweeper running");
}

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("{what} within 30 s"))
}

fn sent_documents(p: &Pipeline) -> usize {
    p.telegram.calls_to("sendDocument").len()
}

#[tokio::test]
async fn a_task_whose_message_the_bus_lost_is_delivered_exactly_once() {
    let p = pipeline().await;
    let task = p.request(3001, "lost on the bus").await;
    lose_message(&p, task).await;
    let config = p.worker_config();
    let _worker = p.spawn_worker(config.clone(), p.shutdown.clone());
    let (_sweeper, mut status) = p.spawn_sweeper(config, p.shutdown.clone());

    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Delivered);
    assert_eq!(p.task_events(task).await, DELIVERED);
    // Later passes leave a finished task alone.
    passes(&mut status, 3).await;
    assert_eq!(status.borrow().taken_up, 1);
    assert_eq!(p.openai.calls().len(), 1);
    assert_eq!(sent_documents(&p), 1, "one picture in the chat");
    assert_eq!(count_events(&p.t.db, "TaskDelivered").await, 1);
    assert_eq!(p.refunds_of(task, user(3001)).await, 0);
}

#[tokio::test]
async fn an_abandoned_attempt_and_an_undelivered_picture_are_finished_by_the_sweeper() {
    let p = pipeline().await;
    let config = WorkerConfig {
        // One delivery try: a finished picture counts as stalled 17 s (the Bot API client's
        // timeout) plus the stall time after TaskSucceeded.
        max_delivery_attempts: 1,
        ..p.worker_config()
    };
    let lease = chrono::Duration::from_std(config.lease).expect("lease");
    // A worker died in the middle of an attempt.
    let abandoned = p.request(3002, "abandoned").await;
    lose_message(&p, abandoned).await;
    p.t.ledger
        .start_task(&system(), abandoned, "dead-worker", lease)
        .await
        .expect("start");
    // A worker died after keeping the picture and recording the success.
    let undelivered = p.request(3003, "undelivered").await;
    lose_message(&p, undelivered).await;
    let attempt =
        p.t.ledger
            .start_task(&system(), undelivered, "dead-worker", lease)
            .await
            .expect("start")
            .value
            .attempt;
    ResultStore::new(p.t.ledger.store().database().pool().clone())
        .put(undelivered, attempt, b"\x89PNG\r\n\x1a\nkept")
        .await
        .expect("keep");
    p.t.ledger
        .succeed_task(&system(), undelivered, attempt, None)
        .await
        .expect("succeed");

    let (_sweeper, status) = p.spawn_sweeper(config, p.shutdown.clone());
    let a = p.final_state(abandoned).await;
    assert_eq!(a.status, TaskStatus::Delivered);
    assert_eq!(a.attempts, 2, "the dead worker's attempt counts");
    let u = p.final_state(undelivered).await;
    assert_eq!(u.status, TaskStatus::Delivered);
    assert_eq!(p.task_events(undelivered).await, DELIVERED);
    assert_eq!(
        p.openai.calls().len(),
        1,
        "the kept picture is not made again"
    );
    assert_eq!(sent_documents(&p), 2);
    assert_eq!(status.borrow().taken_up, 2);
}

#[tokio::test]
async fn one_sweeper_works_at_a_time_and_a_standby_takes_over_when_it_dies() {
    let p = pipeline().await;
    let config = p.worker_config();
    let (first, mut first_status) = p.spawn_sweeper(config.clone(), Shutdown::new());
    tokio::time::timeout(Duration::from_secs(30), first_status.wait_for(|s| s.active))
        .await
        .expect("the first sweeper takes the lock")
        .expect("running");
    let (_second, mut second_status) = p.spawn_sweeper(config, p.shutdown.clone());

    let task = p.request(3004, "first sweeper").await;
    lose_message(&p, task).await;
    assert_eq!(p.final_state(task).await.status, TaskStatus::Delivered);
    passes(&mut first_status, 3).await;
    assert_eq!(first_status.borrow().taken_up, 1);
    assert_eq!(
        *second_status.borrow(),
        SweeperStatus::default(),
        "the standby waits without sweeping"
    );

    // The active one dies; its lock connection closes with it.
    first.abort();
    let _ = first.await;
    tokio::time::timeout(
        Duration::from_secs(30),
        second_status.wait_for(|s| s.active),
    )
    .await
    .expect("the standby takes over")
    .expect("running");
    let task = p.request(3005, "second sweeper").await;
    lose_message(&p, task).await;
    assert_eq!(p.final_state(task).await.status, TaskStatus::Delivered);
    assert_eq!(second_status.borrow().taken_up, 1);
    assert_eq!(sent_documents(&p), 2);
}

#[tokio::test]
async fn a_sweeper_and_a_consumer_on_the_same_tasks_run_each_once() {
    let p = pipeline().await;
    p.openai.set_latency(Duration::from_millis(500));
    let config = p.worker_config();
    // Paid tasks whose messages wait in the stream while no worker runs, for longer than the
    // stall time: both roads will go for them.
    let mut tasks = Vec::new();
    for i in 0..4 {
        tasks.push(p.request(3100 + i, "contested").await);
    }
    tokio::time::sleep(config.task_stall + Duration::from_millis(500)).await;
    let (_sweeper, mut status) = p.spawn_sweeper(config.clone(), p.shutdown.clone());
    tokio::time::timeout(
        Duration::from_secs(30),
        status.wait_for(|s| s.taken_up >= 1),
    )
    .await
    .expect("the sweeper takes the stalled tasks up")
    .expect("running");
    let _worker = p.spawn_worker(config, p.shutdown.clone());

    for task in &tasks {
        let done = p.final_state(*task).await;
        assert_eq!(done.status, TaskStatus::Delivered);
        assert_eq!(
            p.task_events(*task).await,
            DELIVERED,
            "one attempt of {task}"
        );
    }
    eprintln!(
        "the sweeper took up {} of the 4 tasks the consumer also received",
        status.borrow().taken_up
    );
    assert_eq!(p.openai.calls().len(), 4, "one generation per task");
    assert_eq!(sent_documents(&p), 4, "one picture per task");
    assert_eq!(count_events(&p.t.db, "TaskStarted").await, 4);
}

#[tokio::test]
async fn health_is_degraded_while_a_paid_task_is_older_than_its_bound() {
    let t = ledger().await;
    let stop = Shutdown::new();
    let (age_tx, mut age) = watch::channel(None);
    tokio::spawn(open_tasks::monitor(
        t.ledger.store().database().pool().clone(),
        Duration::from_millis(100),
        age_tx,
        stop.clone(),
    ));
    let bound = Duration::from_secs(1);
    let check = OpenTaskAgeCheck {
        age: age.clone(),
        bound,
    };
    let app = router(AdminState::new(
        t.ledger.clone(),
        None,
        vec![Arc::new(check)],
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let health = || async {
        let r = reqwest::get(format!("{base}/health"))
            .await
            .expect("health");
        let code = r.status();
        let body: serde_json::Value = r.json().await.expect("json");
        (code, body)
    };
    within("a first measurement", age.wait_for(|a| a.is_some()))
        .await
        .expect("monitor");
    let (code, body) = health().await;
    assert_eq!(code, reqwest::StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["open_tasks"], "ok");

    // A paid task and no worker: it grows older than the bound.
    let u = user(3200);
    open_with(&t.ledger, u, 1000).await;
    let task = t
        .ledger
        .request_task(&ctx(u), low_task(u, "waiting"))
        .await
        .expect("request")
        .value
        .task_id;
    within(
        "the age above the bound",
        age.wait_for(|a| a.is_some_and(|a| a > bound)),
    )
    .await
    .expect("monitor");
    let (code, body) = health().await;
    assert_eq!(code, reqwest::StatusCode::OK, "degraded still answers 200");
    assert_eq!(body["status"], "degraded");
    let verdict = body["checks"]["open_tasks"].as_str().unwrap_or_default();
    assert!(
        verdict.starts_with("degraded: the oldest open task was requested"),
        "{verdict}"
    );
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("tokenbot_tasks_oldest_open_age_seconds"),
        "{metrics}"
    );

    // Refunded: nothing is open any more.
    t.ledger
        .fail_task(&system(), task, u, "given up")
        .await
        .expect("fail");
    within(
        "the age back to zero",
        age.wait_for(|a| *a == Some(Duration::ZERO)),
    )
    .await
    .expect("monitor");
    let (_, body) = health().await;
    assert_eq!(body["status"], "ok");
    stop.cancel();
}
