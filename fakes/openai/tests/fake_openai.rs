//! The fake speaks OpenAI's wire format and does what it is told, checked with a real HTTP client.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tokenbot_fake_openai::{Behavior, Endpoint, FakeOpenAi};

async fn generate(fake: &FakeOpenAi, prompt: &str, key: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/images/generations", fake.url()))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-image-1", "prompt": prompt, "n": 1, "quality": "low", "size": "1024x1536"}))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn generation_returns_a_real_png_and_usage() {
    let fake = FakeOpenAi::start().await.expect("start");
    let r = generate(&fake, "a cat", fake.api_key()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let b64 = body["data"][0]["b64_json"].as_str().expect("b64_json");
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(body["usage"]["output_tokens"], 408);
    assert_eq!(body["size"], "1024x1536");
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].endpoint, calls[0].prompt.as_deref()),
        (Endpoint::Generations, Some("a cat"))
    );
}

#[tokio::test]
async fn edits_take_multipart_images_and_reject_other_types() {
    let fake = FakeOpenAi::start().await.expect("start");
    let client = reqwest::Client::new();
    let form = |mime: &str| {
        reqwest::multipart::Form::new()
            .text("model", "gpt-image-1")
            .text("prompt", "make it blue")
            .part(
                "image",
                reqwest::multipart::Part::bytes(vec![0xff, 0xd8, 0xff, 0xe0])
                    .file_name("photo.jpg")
                    .mime_str(mime)
                    .expect("mime"),
            )
    };
    let ok = client
        .post(format!("{}/images/edits", fake.url()))
        .bearer_auth(fake.api_key())
        .multipart(form("image/jpeg"))
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
    let bad = client
        .post(format!("{}/images/edits", fake.url()))
        .bearer_auth(fake.api_key())
        .multipart(form("text/plain"))
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_image_format");
    let image = fake.calls()[0].image.clone().expect("image recorded");
    assert_eq!(
        (
            image.file_name.as_deref(),
            image.content_type.as_deref(),
            image.len
        ),
        (Some("photo.jpg"), Some("image/jpeg"), 4)
    );
}

#[tokio::test]
async fn wrong_keys_get_openais_401() {
    let fake = FakeOpenAi::start().await.expect("start");
    let r = generate(&fake, "x", "sk-wrong").await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_api_key");
}

#[tokio::test]
async fn queued_and_scripted_failures_in_order() {
    let fake = FakeOpenAi::start().await.expect("start");
    fake.enqueue_many([
        Behavior::ServerError,
        Behavior::RateLimited { retry_after_s: 7 },
        Behavior::MalformedBody,
    ]);
    fake.script_prompt("forbidden", [Behavior::Moderation]);

    let moderated = generate(&fake, "a forbidden thing", fake.api_key()).await;
    assert_eq!(moderated.status(), 400);
    let body: Value = moderated.json().await.expect("json");
    assert_eq!(body["error"]["code"], "moderation_blocked");

    assert_eq!(generate(&fake, "a", fake.api_key()).await.status(), 500);
    let limited = generate(&fake, "b", fake.api_key()).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(
        limited
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let malformed = generate(&fake, "c", fake.api_key()).await;
    assert_eq!(malformed.status(), 200);
    assert!(serde_json::from_str::<Value>(&malformed.text().await.expect("text")).is_err());
    assert_eq!(
        generate(&fake, "d", fake.api_key()).await.status(),
        200,
        "the queue is empty again"
    );
}

#[tokio::test]
async fn latency_applies_to_every_request_and_requests_run_concurrently() {
    let fake = FakeOpenAi::start().await.expect("start");
    fake.set_latency(Duration::from_millis(300));
    let started = Instant::now();
    let prompts: Vec<String> = (0..16).map(|i| format!("p{i}")).collect();
    let requests: Vec<_> = prompts
        .iter()
        .map(|p| generate(&fake, p, fake.api_key()))
        .collect();
    let responses = futures::future::join_all(requests).await;
    assert!(responses.iter().all(|r| r.status() == 200));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(300 * 8),
        "concurrent, not serial: {elapsed:?}"
    );
    assert_eq!(fake.max_in_flight(), 16);
    assert_eq!(
        fake.wait_for_calls(16, Duration::from_secs(1)).await.len(),
        16
    );
}

#[tokio::test]
async fn a_hanging_request_trips_the_client_timeout_and_urls_are_served() {
    let fake = FakeOpenAi::start().await.expect("start");
    fake.enqueue_many([Behavior::Hang, Behavior::UrlResult]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let hung = client
        .post(format!("{}/images/generations", fake.url()))
        .bearer_auth(fake.api_key())
        .json(&json!({"prompt": "slow"}))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    let body: Value = generate(&fake, "url please", fake.api_key())
        .await
        .json()
        .await
        .expect("json");
    let url = body["data"][0]["url"].as_str().expect("url");
    let png = reqwest::get(url)
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&png[..4], b"\x89PNG");
}
