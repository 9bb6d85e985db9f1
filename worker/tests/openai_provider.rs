//! The real OpenAI client code against the fake OpenAI server: requests in OpenAI's format, and
//! every kind of failure classified as retryable or permanent.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokenbot_fake_openai::{Behavior, Endpoint, FakeOpenAi};
use tokenbot_ledger::{ImageSize, ModelId, Prompt, Quality, TaskKind};
use tokenbot_worker::provider::openai::{OpenAiConfig, OpenAiImages};
use tokenbot_worker::provider::{ImageProvider, ImageRequest, ProviderError, Refusal, SourceImage};

fn client(fake: &FakeOpenAi, timeout: Duration) -> OpenAiImages {
    OpenAiImages::new(OpenAiConfig {
        base_url: fake.url().to_string(),
        api_key: fake.api_key().to_string(),
        timeout,
    })
    .expect("client")
}

fn request(kind: TaskKind, prompt: &str) -> ImageRequest {
    ImageRequest {
        kind,
        model: ModelId::parse("gpt-image-1").expect("model"),
        prompt: Prompt::parse(prompt).expect("prompt"),
        quality: Quality::High,
        size: ImageSize::Landscape,
        source: (kind == TaskKind::Edit).then(|| SourceImage {
            bytes: bytes::Bytes::from_static(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]),
            file_name: "source.jpg".into(),
            content_type: "image/jpeg".into(),
        }),
    }
}

#[tokio::test]
async fn generate_and_edit_send_the_task_and_decode_the_png() {
    let fake = FakeOpenAi::start().await.expect("fake");
    let openai = client(&fake, Duration::from_secs(5));
    let made = openai
        .create(&request(TaskKind::Generate, "a lighthouse"))
        .await
        .expect("generated");
    assert_eq!(&made.png[..4], b"\x89PNG");
    assert_eq!(
        made.usage
            .as_ref()
            .and_then(|u| u["output_tokens"].as_u64()),
        Some(6208)
    );
    let edited = openai
        .create(&request(TaskKind::Edit, "make it night"))
        .await
        .expect("edited");
    assert_eq!(&edited.png[..4], b"\x89PNG");

    let calls = fake.calls();
    assert_eq!(calls[0].endpoint, Endpoint::Generations);
    assert_eq!(
        (
            calls[0].model.as_deref(),
            calls[0].quality.as_deref(),
            calls[0].size.as_deref(),
            calls[0].n
        ),
        (
            Some("gpt-image-1"),
            Some("high"),
            Some("1536x1024"),
            Some(1)
        )
    );
    assert_eq!(calls[1].endpoint, Endpoint::Edits);
    let image = calls[1].image.clone().expect("uploaded");
    assert_eq!(
        image.content_type.as_deref(),
        Some("image/jpeg"),
        "the real content type, not a PNG claim"
    );
}

#[tokio::test]
async fn failures_are_classified() {
    let fake = FakeOpenAi::start().await.expect("fake");
    let openai = client(&fake, Duration::from_millis(500));
    fake.enqueue_many([
        Behavior::RateLimited { retry_after_s: 3 },
        Behavior::ServerError,
        Behavior::MalformedBody,
        Behavior::Hang,
        Behavior::Moderation,
        Behavior::InvalidImage,
        Behavior::BadRequest("Invalid size".into()),
        Behavior::UrlResult,
    ]);
    let r = |p: &'static str| request(TaskKind::Generate, p);
    match openai.create(&r("1")).await {
        Err(ProviderError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)))
        }
        other => panic!("429: {other:?}"),
    }
    for (what, expected_retryable) in [("500", true), ("malformed", true), ("hang", true)] {
        let e = openai.create(&r("x")).await.expect_err(what);
        assert_eq!(e.is_retryable(), expected_retryable, "{what}: {e}");
    }
    for refusal in [
        Refusal::Moderation,
        Refusal::InvalidImage,
        Refusal::BadRequest,
    ] {
        match openai.create(&r("y")).await {
            Err(ProviderError::Permanent { refusal: got, .. }) => assert_eq!(got, refusal),
            other => panic!("{refusal:?}: {other:?}"),
        }
    }
    let by_url = openai
        .create(&r("url"))
        .await
        .expect("downloaded from the URL");
    assert_eq!(&by_url.png[..4], b"\x89PNG");

    let wrong_key = OpenAiImages::new(OpenAiConfig {
        base_url: fake.url().into(),
        api_key: "sk-nope".into(),
        timeout: Duration::from_secs(2),
    })
    .expect("client");
    match wrong_key.create(&r("z")).await {
        Err(ProviderError::Permanent {
            refusal: Refusal::Configuration,
            ..
        }) => {}
        other => panic!("401: {other:?}"),
    }
    let nobody = OpenAiImages::new(OpenAiConfig {
        base_url: "http://127.0.0.1:1/v1".into(),
        api_key: "k".into(),
        timeout: Duration::from_secs(2),
    })
    .expect("client");
    assert!(
        nobody
            .create(&r("z"))
            .await
            .expect_err("unreachable")
            .is_retryable()
    );
}
