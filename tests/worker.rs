//! The worker end to end: TaskRequested from JetStream to the (fake) OpenAI API and the result to
//! the (fake) Telegram Bot API, with retries, refunds, redelivery and a worker killed mid-task.
//! Real Postgres, real NATS JetStream.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::pipeline::Pipeline;
use common::*;
use tokenbot_fake_openai::{Behavior, Endpoint};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{TaskKind, TaskStatus, Tokens};

async fn pipeline() -> Pipeline {
    Pipeline::start(ledger().await).await
}

/// The text of the first message the worker sent (its failure notice).
async fn failure_notice(p: &Pipeline) -> String {
    let told = p
        .telegram
        .wait_for_call(0, Duration::from_secs(10), |c| c.method == "sendMessage")
        .await
        .expect("failure notice");
    told.params["text"].as_str().unwrap_or_default().to_string()
}

fn sent_documents(p: &Pipeline) -> Vec<tokenbot_fake_telegram::Call> {
    p.telegram.calls_to("sendDocument")
}

#[tokio::test]
async fn a_generated_image_is_delivered_as_a_png_document_with_the_caption() {
    let p = pipeline().await;
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    let task = p.request(1001, "a <b>lighthouse</b> at dusk").await;
    let done = p.final_state(task).await;

    assert_eq!(done.status, TaskStatus::Delivered);
    assert_eq!(
        p.task_events(task).await,
        [
            "TaskRequested",
            "TaskStarted",
            "TaskSucceeded",
            "TaskDelivered"
        ]
    );
    let docs = sent_documents(&p);
    assert_eq!(docs.len(), 1);
    let params = &docs[0].params;
    assert_eq!(params["chat_id"].to_string().trim_matches('"'), "1001");
    assert_eq!(
        params["document"]["file_name"].as_str(),
        Some(format!("task_{task}.png").as_str())
    );
    let caption = params["caption"].as_str().expect("caption");
    assert!(caption.starts_with("✅ Картинка создана!"), "{caption}");
    assert!(
        caption.contains("a <b>lighthouse</b> at dusk"),
        "plain text: {caption}"
    );
    assert!(caption.contains("Списано: 100 🪙"), "{caption}");
    let file_id = done.result_file_id.clone().expect("file id");
    let uploaded = p.telegram.uploaded(&file_id).expect("uploaded bytes");
    assert_eq!(&uploaded.bytes[..4], b"\x89PNG");

    // The read side shows it done, with the file id a profile can re-send.
    let target = last_cursor(&p.t.db).await;
    let mut projected = p.projected.clone();
    reached(&mut projected, target, "projector").await;
    let client = p.t.db.pool().get().await.expect("client");
    let view = tokenbot_projections::queries::owned_task(&client, 1001, task.as_uuid())
        .await
        .expect("query")
        .expect("task view");
    assert_eq!(view.status, "done", "the seed's name for a delivered task");
    assert_eq!(view.result_file_id.as_deref(), Some(file_id.as_str()));
    // The image was only kept until Telegram had it.
    let kept: i64 = client
        .query_one("SELECT count(*) FROM worker.results", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn an_edit_downloads_the_source_from_telegram_and_uploads_it_as_what_it_is() {
    let p = pipeline().await;
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7u8; 2000][..]].concat();
    let source = p
        .telegram
        .add_file(jpeg, Some("photo.jpg"), Some("image/jpeg"));
    let u = user(1002);
    open_with(&p.t.ledger, u, 1000).await;
    let mut req = low_task(u, "make it night");
    req.kind = TaskKind::Edit;
    req.source_file_id = Some(source.file_id.clone());
    let task =
        p.t.ledger
            .request_task(&ctx(u), req)
            .await
            .expect("request")
            .value
            .task_id;
    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Delivered);
    let calls = p.openai.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].endpoint, Endpoint::Edits);
    let image = calls[0].image.as_ref().expect("uploaded source");
    assert_eq!(image.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(image.len, 2004);
    let caption = sent_documents(&p)[0].params["caption"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(caption.starts_with("✅ Фото отредактировано!"), "{caption}");
}

#[tokio::test]
async fn two_failures_then_success_debit_once_and_refund_nothing() {
    let p = pipeline().await;
    p.openai
        .enqueue_many([Behavior::ServerError, Behavior::ServerError, Behavior::Ok]);
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    let task = p.request(1003, "stubborn").await;
    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Delivered);
    assert_eq!(done.attempts, 3);
    assert_eq!(p.refunds_of(task, user(1003)).await, 0);
    assert_eq!(
        balance(&p.t.ledger, user(1003)).await,
        Tokens::from_const(900)
    );
    assert_eq!(
        p.task_events(task).await,
        [
            "TaskRequested",
            "TaskStarted",
            "TaskAttemptFailed",
            "TaskStarted",
            "TaskAttemptFailed",
            "TaskStarted",
            "TaskSucceeded",
            "TaskDelivered"
        ]
    );
}

#[tokio::test]
async fn three_failures_refund_exactly_once_and_tell_the_user() {
    let p = pipeline().await;
    p.openai.set_default(Behavior::ServerError);
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    let task = p.request(1004, "never works").await;
    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Failed);
    assert_eq!(done.refunded, Some(Tokens::from_const(100)));
    assert_eq!(p.openai.calls().len(), 3);
    assert_eq!(p.refunds_of(task, user(1004)).await, 1);
    assert_eq!(
        balance(&p.t.ledger, user(1004)).await,
        Tokens::from_const(1000)
    );
    let text = failure_notice(&p).await;
    assert!(text.contains("Токены (100) возвращены"), "{text}");
    assert!(sent_documents(&p).is_empty());
}

#[tokio::test]
async fn a_moderation_refusal_is_not_retried_and_says_why() {
    let p = pipeline().await;
    p.openai.enqueue(Behavior::Moderation);
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    let task = p.request(1005, "something forbidden").await;
    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Failed);
    assert_eq!(p.openai.calls().len(), 1, "no retry after a refusal");
    assert_eq!(p.refunds_of(task, user(1005)).await, 1);
    let text = failure_notice(&p).await;
    assert!(text.contains("возвращены"), "{text}");
    assert!(
        text.contains("модерац") || text.contains("безопасности"),
        "{text}"
    );
}

#[tokio::test]
async fn two_workers_and_a_redelivered_message_run_one_generation() {
    let p = pipeline().await;
    p.openai.set_latency(Duration::from_millis(300));
    let config = p.worker_config();
    let _a = p.spawn_worker(config.clone(), p.shutdown.clone());
    let _b = p.spawn_worker(
        tokenbot_worker::WorkerConfig {
            worker_id: "second".into(),
            ..config
        },
        p.shutdown.clone(),
    );
    let task = p.request(1006, "contested").await;
    // The same event again, as a redelivery would bring it (a new message id defeats dedup),
    // while the first delivery is being worked on.
    p.openai.wait_for_calls(1, Duration::from_secs(30)).await;
    let stream = p.js.get_stream(&p.bus.stream).await.expect("stream");
    let original = stream
        .get_last_raw_message_by_subject(&p.bus.subject("task", "TaskRequested"))
        .await
        .expect("the relayed TaskRequested");
    let mut headers = original.headers.clone();
    headers.insert("Nats-Msg-Id", "a-redelivery");
    p.js.publish_with_headers(
        original.subject.to_string(),
        headers,
        original.payload.clone(),
    )
    .await
    .expect("publish")
    .await
    .expect("ack");

    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Delivered);
    assert_eq!(done.attempts, 1);
    assert_eq!(p.openai.calls().len(), 1, "one generation");
    assert_eq!(p.openai.max_in_flight(), 1);
    assert_eq!(sent_documents(&p).len(), 1, "one result");
    assert_eq!(p.refunds_of(task, user(1006)).await, 0);
}

#[tokio::test]
async fn a_worker_killed_mid_generation_is_replaced_and_the_task_completes_once() {
    let p = pipeline().await;
    p.openai.enqueue(Behavior::Hang);
    let first = p.spawn_worker(p.worker_config(), Shutdown::new());
    let task = p.request(1007, "interrupted").await;
    p.openai.wait_for_calls(1, Duration::from_secs(30)).await;
    assert_eq!(p.openai.calls().len(), 1, "the first attempt is running");
    first.abort();
    let _ = first.await;

    let _second = p.spawn_worker(
        tokenbot_worker::WorkerConfig {
            worker_id: "replacement".into(),
            ..p.worker_config()
        },
        p.shutdown.clone(),
    );
    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Delivered);
    assert_eq!(done.attempts, 2, "the dead worker's attempt counts");
    assert_eq!(p.refunds_of(task, user(1007)).await, 0);
    assert_eq!(sent_documents(&p).len(), 1);
}

#[tokio::test]
async fn a_user_who_blocked_the_bot_is_refunded_instead() {
    let p = pipeline().await;
    p.telegram.fail_next(
        "sendDocument",
        1,
        tokenbot_fake_telegram::Failure::new(403, "Forbidden: bot was blocked by the user"),
    );
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    let task = p.request(1008, "unwanted").await;
    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Failed);
    assert_eq!(p.refunds_of(task, user(1008)).await, 1);
    assert_eq!(
        p.task_events(task).await,
        [
            "TaskRequested",
            "TaskStarted",
            "TaskSucceeded",
            "TaskFailed",
            "TaskRefunded"
        ]
    );
}

#[tokio::test]
async fn an_undecodable_message_is_parked_and_the_next_task_still_runs() {
    let p = pipeline().await;
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    p.bus.ensure_stream(&p.js).await.expect("stream");
    p.js.publish(
        p.bus.subject("task", "TaskRequested"),
        "not an event".into(),
    )
    .await
    .expect("publish")
    .await
    .expect("ack");
    let task = p.request(1009, "after the garbage").await;
    let done = p.final_state(task).await;
    assert_eq!(done.status, TaskStatus::Delivered);
}

#[tokio::test]
async fn a_graceful_shutdown_finishes_the_task_in_hand() {
    let p = pipeline().await;
    p.openai.set_latency(Duration::from_millis(500));
    let stop = Shutdown::new();
    let worker = p.spawn_worker(p.worker_config(), stop.clone());
    let task = p.request(1010, "finish me").await;
    p.openai.wait_for_calls(1, Duration::from_secs(30)).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the worker stops once its task is done")
        .expect("worker");
    let t = p.t.ledger.task(task).await.expect("read").expect("task");
    assert_eq!(t.status, TaskStatus::Delivered, "finished, not abandoned");
    assert_eq!(sent_documents(&p).len(), 1);
}

/// People pause between steps: after the worker has sat idle for longer than every pull timer in
/// its path (heartbeat, pull expiry, the client's own batch timer), a task must still be started
/// at once. Measured from the moment the relay's `TaskRequested` reaches NATS (a plain subscriber
/// on its subject) to the provider call, which the worker makes right after `TaskStarted`.
#[tokio::test]
async fn a_task_after_an_idle_gap_is_started_within_a_second_of_its_publication() {
    use futures::StreamExt;
    let p = pipeline().await;
    let mut published =
        p.js.client()
            .subscribe(p.bus.subject("task", "TaskRequested"))
            .await
            .expect("subscribe");
    let config = tokenbot_worker::WorkerConfig {
        // Production's ack wait, so a lost wake-up cannot hide behind a quick redelivery.
        ack_wait: Duration::from_secs(30),
        ..p.worker_config()
    };
    let _worker = p.spawn_worker(config, p.shutdown.clone());
    // A first task (not measured) so the durable consumer exists before the clock runs.
    let warm_up = p.request(1100, "warm up").await;
    assert_eq!(p.final_state(warm_up).await.status, TaskStatus::Delivered);
    assert!(published.next().await.is_some());

    let mut calls = 1;
    for (i, gap_s) in [0u64, 6, 12, 20].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_secs(gap_s)).await;
        let task = p.request(1101 + i as i64, "after a pause").await;
        tokio::time::timeout(Duration::from_secs(30), published.next())
            .await
            .expect("the relay publishes the task")
            .expect("subscription open");
        let at_publication = std::time::Instant::now();
        calls += 1;
        let seen = p
            .openai
            .wait_for_calls(calls, Duration::from_secs(60))
            .await;
        let pickup = at_publication.elapsed();
        assert_eq!(seen.len(), calls, "task after {gap_s} s idle never started");
        eprintln!("after {gap_s} s idle: started {pickup:?} after its publication");
        assert!(
            pickup <= Duration::from_secs(1),
            "task after {gap_s} s idle started {pickup:?} after its publication"
        );
        let done = p.final_state(task).await;
        assert_eq!(done.status, TaskStatus::Delivered);
        assert_eq!(done.attempts, 1);
    }
}

/// Without heartbeats, a dead connection shows as a pull request that never reports its expiry:
/// after NATS comes back, the worker asks again within the pull expiry and the grace for a late
/// answer, and the next task is taken up.
#[tokio::test]
async fn after_nats_restarts_the_worker_takes_tasks_again() {
    use futures::StreamExt;
    use tokenbot_worker::pull::{LOST_AFTER, PULL_EXPIRES};
    let mut nats = tokenbot_testkit::OwnedNats::spawn().await;
    let p = Pipeline::start_on(ledger().await, nats.url(), "restart").await;
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    let before = p.request(1200, "before the outage").await;
    assert_eq!(p.final_state(before).await.status, TaskStatus::Delivered);

    nats.stop().await;
    // The outage: longer than a pull request's expiry.
    tokio::time::sleep(PULL_EXPIRES + Duration::from_secs(1)).await;
    nats.start().await;
    let mut published =
        p.js.client()
            .subscribe(p.bus.subject("task", "TaskRequested"))
            .await
            .expect("subscribe");
    let after = p.request(1201, "after the outage").await;
    tokio::time::timeout(Duration::from_secs(60), published.next())
        .await
        .expect("the relay publishes once NATS is back")
        .expect("subscription open");
    let at_publication = std::time::Instant::now();
    let seen = p.openai.wait_for_calls(2, Duration::from_secs(60)).await;
    let pickup = at_publication.elapsed();
    assert_eq!(seen.len(), 2, "the task after the outage never started");
    let bound = PULL_EXPIRES + LOST_AFTER + Duration::from_secs(1);
    assert!(
        pickup <= bound,
        "started {pickup:?} after its publication (bound {bound:?})"
    );
    assert_eq!(p.final_state(after).await.status, TaskStatus::Delivered);
}
