//! Keys stored by earlier builds must keep matching: the fingerprints every command computes
//! are pinned to the bytes the ledger wrote before commands were split into files.

use chrono::Duration;

use super::Command;
use super::append::{Append, StreamAppend};
use super::attempt_failed::AttemptFailed;
use super::change_settings::ChangeSettings;
use super::deliver_task::DeliverTask;
use super::fail_task::FailTask;
use super::grant::Grant;
use super::open_account::OpenAccount;
use super::refund_task::RefundTask;
use super::request_task::{RequestTask, TaskRequest};
use super::start_task::StartTask;
use super::succeed_task::SucceedTask;
use crate::events::{AccountOpened, Event, GrantKind, SettingsChanged, TokensGranted};
use crate::ids::{TaskId, TelegramId};
use crate::image::{ImageSize, ModelId, Prompt, Quality, TaskKind};
use crate::stream::{ExpectedVersion, StreamId, StreamVersion};
use crate::tokens::Tokens;

fn tg() -> TelegramId {
    TelegramId::new(4242).expect("valid")
}

fn task() -> TaskId {
    TaskId::from_uuid(uuid::Uuid::from_u128(
        0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
    ))
}

fn request() -> TaskRequest {
    TaskRequest {
        telegram_id: tg(),
        kind: TaskKind::Edit,
        prompt: Prompt::parse("a cat").expect("valid"),
        model: Some(ModelId::parse("gpt-image-1").expect("valid")),
        quality: Quality::High,
        size: ImageSize::Square,
        template_id: Some("t1".into()),
        source_file_id: Some("file-1".into()),
    }
}

/// (name, fingerprint, what the build before this module computed for the same input).
type Pin = (&'static str, Vec<u8>, &'static str);

fn pin<C: Command>(c: C, old: &'static str) -> Pin {
    (C::NAME, c.fingerprint(), old)
}

fn samples() -> Vec<Pin> {
    let mut all = account_samples();
    all.extend(task_samples());
    all
}

fn account_samples() -> Vec<Pin> {
    let appended = Event::TokensGranted(TokensGranted {
        amount: Tokens::from_const(5),
        kind: GrantKind::Import,
        reason: None,
        balance_after: Tokens::from_const(5),
        purchase: None,
    });
    vec![
        pin(
            OpenAccount(AccountOpened {
                telegram_id: tg(),
                username: Some("ann".into()),
                first_name: Some("Ann".into()),
                language_code: Some("ru".into()),
            }),
            "12d62f6c8871fc222abf891b43f0d3f032f01271b8d2d7ce439e33c0d05ebd4b",
        ),
        pin(
            Grant {
                telegram_id: tg(),
                amount: Tokens::from_const(500),
                kind: GrantKind::Admin,
                reason: Some("gift".into()),
            },
            "4406436a19da4367ae01b8a902fd241a3a3278e7f2af5ec96ed33f0bf6b6d88e",
        ),
        pin(
            RequestTask {
                task_id: task(),
                request: request(),
            },
            "406bd302cf81e40017e2017cf107e95a02400070916aae0922fc95697f462808",
        ),
        pin(
            ChangeSettings {
                telegram_id: tg(),
                wanted: SettingsChanged {
                    model: None,
                    quality: Some(Quality::Low),
                    size: Some(ImageSize::Square),
                },
            },
            "f0a57eb61959e7de39123a1d20ba684f11285ab56c513f255f7648965621cde8",
        ),
        pin(
            Append(vec![StreamAppend {
                stream: StreamId::custom("test-1").expect("valid"),
                expected: ExpectedVersion::Exact(StreamVersion(3)),
                events: vec![appended],
            }]),
            "db9b1d30d54446498a742f013adef519548d8c5ca19354859c5847775a7caa15",
        ),
    ]
}

fn task_samples() -> Vec<Pin> {
    vec![
        pin(
            StartTask {
                task_id: task(),
                worker: "w-1".into(),
                lease: Duration::seconds(30),
            },
            "5d059f5d7b8b2d42075e5b262c4b02311a8d79aa7bc6b13da82c5adb4847a357",
        ),
        pin(
            AttemptFailed {
                task_id: task(),
                attempt: 2,
                error: "boom".into(),
                retryable: true,
            },
            "2ecad984669341ef03d96be9cddd8c00867b3c21b623bb49a20c31a0d856c3da",
        ),
        pin(
            SucceedTask {
                task_id: task(),
                attempt: 2,
                provider_usage: Some(serde_json::json!({"x": 1})),
            },
            "0d0f1c9cc300f6df09b0e370e6df2606be62576e5fe5ff062934d90860f2b515",
        ),
        pin(
            DeliverTask {
                task_id: task(),
                telegram_file_id: "doc-1".into(),
            },
            "bf1925898abea573119fe462ee50a596f1b808033b751dc5d3c36dd23a45be43",
        ),
        pin(
            FailTask {
                task_id: task(),
                owner: tg(),
                error: "gave up".into(),
            },
            "ebe17d679b999849f2ca1790c37d7305c767e993d3e54f845dd269f1aa1ae048",
        ),
        pin(
            RefundTask {
                task_id: task(),
                owner: tg(),
                amount: Tokens::from_const(70),
                reason: "sorry".into(),
            },
            "779a66dd00a0ef4cd21696f1e6d55da416cdf1f4d3c2390f866f066eec0c7326",
        ),
    ]
}

#[test]
fn fingerprints_match_what_earlier_builds_stored() {
    for (name, fingerprint, old) in samples() {
        assert_eq!(hex::encode(fingerprint), old, "fingerprint of {name}");
    }
}

#[test]
fn command_names_are_distinct() {
    let mut names: Vec<&str> = samples().iter().map(|(n, _, _)| *n).collect();
    let all = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all, "two commands share a name: {names:?}");
}

#[test]
fn ids_the_ledger_chose_are_not_fingerprinted() {
    let again = RequestTask {
        task_id: TaskId::new(),
        request: request(),
    };
    let first = RequestTask {
        task_id: task(),
        request: request(),
    };
    assert_eq!(first.fingerprint(), again.fingerprint());
    let longer = StartTask {
        task_id: task(),
        worker: "w-1".into(),
        lease: Duration::seconds(300),
    };
    let shorter = StartTask {
        lease: Duration::seconds(1),
        ..longer.clone()
    };
    assert_eq!(longer.fingerprint(), shorter.fingerprint());
}
