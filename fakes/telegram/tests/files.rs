//! Uploads and downloads through the real teloxide client.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::setup;
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{FileId, InputFile, ParseMode};
use teloxide::{ApiError, RequestError};

/// A PNG header is all the fake reads of an image.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 1, 2, 3, 4]);
    b
}

#[tokio::test]
async fn send_document_upload_is_kept() {
    let (fake, bot) = setup().await;
    let bytes = png(1024, 1536);
    let sent = bot
        .send_document(
            ChatId(42),
            InputFile::memory(bytes.clone()).file_name("task_x.png"),
        )
        .caption("Task <b>x</b> is ready")
        .parse_mode(ParseMode::Html)
        .await
        .expect("sendDocument");
    let doc = sent.document().expect("a document");
    assert_eq!(doc.file_name.as_deref(), Some("task_x.png"));
    assert_eq!(
        doc.mime_type.as_ref().map(|m| m.essence_str()),
        Some("image/png")
    );
    assert_eq!(doc.file.size as usize, bytes.len());
    assert_eq!(sent.caption(), Some("Task x is ready"));

    let up = fake.uploaded(&doc.file.id.0).expect("kept");
    assert_eq!(up.bytes, bytes);
    assert_eq!(up.file_name.as_deref(), Some("task_x.png"));
    assert_eq!(fake.uploads().len(), 1);

    let call = &fake.calls_to("sendDocument")[0];
    assert_eq!(call.params["document"]["file_name"], "task_x.png");
    assert_eq!(call.params["document"]["len"], bytes.len());
    assert_eq!(call.params["caption"], "Task <b>x</b> is ready");

    let shown = fake.last_message(42).expect("shown");
    assert_eq!(shown.document.as_deref(), Some(doc.file.id.0.as_str()));
    assert_eq!(shown.text.as_deref(), Some("Task x is ready"));

    // Sending it again by id uploads nothing.
    let again = bot
        .send_document(ChatId(43), InputFile::file_id(doc.file.id.clone()))
        .await
        .expect("resend by id");
    assert_eq!(again.document().map(|d| &d.file.id), Some(&doc.file.id));
    assert_eq!(fake.uploads().len(), 1);

    let err = bot
        .send_document(ChatId(43), InputFile::file_id(FileId("nope".into())))
        .await
        .expect_err("unknown id");
    assert!(
        matches!(err, RequestError::Api(ApiError::WrongFileIdOrUrl)),
        "{err:?}"
    );
}

#[tokio::test]
async fn send_photo_and_caption_limit() {
    let (fake, bot) = setup().await;
    let sent = bot
        .send_photo(
            ChatId(8),
            InputFile::memory(png(640, 480)).file_name("p.png"),
        )
        .await
        .expect("sendPhoto");
    let sizes = sent.photo().expect("photo");
    assert_eq!(sizes.len(), 2);
    assert_eq!((sizes[1].width, sizes[1].height), (640, 480));
    assert!(sizes[0].width < sizes[1].width);
    assert_eq!(
        fake.last_message(8).and_then(|m| m.photo),
        Some(sizes[1].file.id.0.clone())
    );

    let err = bot
        .send_photo(ChatId(8), InputFile::memory(b"not a picture".to_vec()))
        .await
        .expect_err("not an image");
    assert!(matches!(err, RequestError::Api(_)), "{err:?}");

    let err = bot
        .send_document(
            ChatId(8),
            InputFile::memory(vec![1, 2, 3]).file_name("a.bin"),
        )
        .caption("c".repeat(1025))
        .await
        .expect_err("caption too long");
    match err {
        RequestError::Api(ApiError::Unknown(d)) => {
            assert_eq!(d, "Bad Request: message caption is too long")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn get_file_and_download() {
    let (fake, bot) = setup().await;
    let bytes = png(32, 32);
    let file = fake.add_file(bytes.clone(), Some("source.png"), Some("image/png"));
    assert_eq!((file.width, file.height), (32, 32));

    let got = bot
        .get_file(FileId(file.file_id.clone()))
        .await
        .expect("getFile");
    assert_eq!(got.meta.size as usize, bytes.len());
    assert_eq!(got.meta.unique_id.0, file.file_unique_id);

    let mut dst = Vec::new();
    bot.download_file(&got.path, &mut dst)
        .await
        .expect("download");
    assert_eq!(dst, bytes);

    let err = bot
        .get_file(FileId("unknown".into()))
        .await
        .expect_err("unknown");
    match err {
        RequestError::Api(ApiError::Unknown(d)) => assert_eq!(d, "Bad Request: invalid file_id"),
        other => panic!("{other:?}"),
    }

    let mut dst = Vec::new();
    let missing = bot.download_file("documents/none.bin", &mut dst).await;
    assert!(missing.is_err());
}
