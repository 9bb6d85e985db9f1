//! The configuration as an operator meets it, through the real binary: every variable is listed
//! with its default in `tokenbot --help` and in a subcommand's help, secrets never show there,
//! and an invalid value stops the program at start with a message naming the variable (exit
//! status 1, or 2 for the auditor's commands). Each run starts from an empty environment, so
//! the machine's own variables cannot mask a result.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use tokenbot::configuration::Environment;

/// Runs the binary with only `vars` in its environment.
fn tokenbot(args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenbot"))
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("run tokenbot")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_every_variable_with_its_default() {
    for args in [
        &["--help"][..],
        &["up", "--help"],
        &["ledger", "verify", "--help"],
    ] {
        let out = tokenbot(args, &[]);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let help = stdout(&out);
        for name in Environment::NAMES {
            assert!(
                help.contains(&format!("[env: {name}")),
                "{args:?} does not list {name}:\n{help}"
            );
        }
        for default in [
            "[default: postgres://postgres@127.0.0.1:5432/tokenbot]",
            "[default: 16]",
            "[default: 10]",
            "[default: 4000]",
            "[default: 20]",
            "[default: 100000000]",
            "[default: 3]",
            "[default: low:272/408/400,medium:1056/1584/1568,high:4160/6240/6208]",
            "[default: gpt-image-1,gpt-image-1.5]",
            "[default: nats://127.0.0.1:4222]",
            "[default: LEDGER]",
            "[default: ledger]",
            "[default: 0.0.0.0:8000]",
            "[default: @support_bot]",
            "[default: https://api.openai.com/v1]",
            "[default: 120]",
            "[default: 8]",
            "[default: 10,30]",
            "[default: 30]",
            "[default: warn]",
            "[default: text]",
            "[default: 30/1s]",
            "[default: 3/3s]",
            "[default: 20/60s]",
            "[default: unset: long polling]",
        ] {
            assert!(help.contains(default), "{args:?} lacks {default}:\n{help}");
        }
    }
}

#[test]
fn help_never_shows_a_secret() {
    let secrets = [
        ("DATABASE_URL", "postgres://owner:pg-secret-1@db/t"),
        (
            "MIGRATION_DATABASE_URL",
            "postgres://owner:pg-secret-2@db/t",
        ),
        ("DATABASE_WRITER_PASSWORD", "writer-secret-3"),
        ("DATABASE_READER_PASSWORD", "reader-secret-4"),
        ("NATS_URL", "nats://n:nats-secret-5@nats:4222"),
        ("ADMIN_API_KEY", "admin-secret-6-xxxxxxxxxx"),
        ("BOT_TOKEN", "123:bot-secret-7"),
        ("OPENAI_API_KEY", "sk-openai-secret-8"),
        ("WEBHOOK_SECRET_TOKEN", "webhook-secret-9"),
        (
            "LEDGER_SIGNING_KEY",
            "abababababababababababababababababababababababababababababababab",
        ),
    ];
    let out = tokenbot(&["up", "--help"], &secrets);
    let help = stdout(&out);
    for (name, value) in secrets {
        assert!(help.contains(&format!("[env: {name}]")), "{name}:\n{help}");
        assert!(!help.contains(value), "the help shows {name}'s value");
    }
    // An ordinary variable does show its value, so the check above is not vacuous.
    let out = tokenbot(&["up", "--help"], &[("DB_POOL_SIZE", "7")]);
    assert!(stdout(&out).contains("[env: DB_POOL_SIZE=7]"));
}

/// A command, one variable, the exact message and the exit status.
type Refusal = (
    &'static [&'static str],
    (&'static str, &'static str),
    &'static str,
    i32,
);

#[test]
fn an_invalid_value_stops_the_start_naming_the_variable() {
    let cases: [Refusal; 10] = [
        (
            &["up"],
            ("TELEGRAM_LIMIT_CHAT", "1 per second"),
            "error: TELEGRAM_LIMIT_CHAT=\"1 per second\" is invalid: expected N/<duration> such as 30/1s, 20/60s or 5/500ms, or off\n",
            1,
        ),
        (
            &["up"],
            ("TOKEN_PACKAGES", "pack_50k:50000:0"),
            "error: TOKEN_PACKAGES=\"pack_50k:50000:0\" is invalid: \"pack_50k:50000:0\": a price in Stars is 1 to 10000, got 0 (expected id:tokens:stars, comma-separated, e.g. pack_50k:50000:50)\n",
            1,
        ),
        (
            &["migrate"],
            ("DB_POOL_SIZE", "0"),
            "error: DB_POOL_SIZE=0 is invalid: expected 1..=256\n",
            1,
        ),
        (
            &["up"],
            ("WORKER_CONCURRENCY", "many"),
            "error: WORKER_CONCURRENCY=\"many\" is invalid: expected a whole number of tasks, 1..=1024\n",
            1,
        ),
        (
            &["up"],
            ("ADMIN_IDS", "111,abc"),
            "error: ADMIN_IDS entry \"abc\" is not a Telegram user id (expected comma-separated positive integers)\n",
            1,
        ),
        (
            &["ledger", "verify"],
            ("LOG_LEVEL", "loud"),
            "error: LOG_LEVEL=\"loud\" is invalid: expected error, warn, info, debug, trace or off\n",
            2,
        ),
        (
            &["ledger", "verify"],
            ("RUST_LOG", "info,tokenbot_ledger=loud"),
            "error: RUST_LOG=\"info,tokenbot_ledger=loud\" is invalid: error parsing level filter: expected one of \"off\", \"error\", \"warn\", \"info\", \"debug\", \"trace\", or a number 0-5 (expected a tracing filter, e.g. info,tokenbot_ledger=debug)\n",
            2,
        ),
        (
            &["up"],
            ("LOG_FORMAT", "xml"),
            "error: LOG_FORMAT=\"xml\" is invalid: expected text or json\n",
            1,
        ),
        (
            &["up"],
            ("ADMIN_API_KEY", "short"),
            "error: ADMIN_API_KEY is too short: use at least 16 characters (or leave it unset to turn the admin API off)\n",
            1,
        ),
        (
            &["up"],
            ("ADMIN_API_KEYS", "alice:my-plaintext-key"),
            "error: ADMIN_API_KEYS is invalid: the digest of \"alice\" is not 64 hex digits (the SHA-256 of the key, never the key itself)\n",
            1,
        ),
    ];
    for (args, var, message, status) in cases {
        let out = tokenbot(args, &[var]);
        assert_eq!(stderr(&out), message, "{args:?} with {}={}", var.0, var.1);
        assert_eq!(out.status.code(), Some(status), "{args:?} with {var:?}");
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn a_flag_wins_over_its_variable() {
    let out = tokenbot(
        &["migrate", "--db-pool-size", "0"],
        &[("DB_POOL_SIZE", "4")],
    );
    assert_eq!(
        stderr(&out),
        "error: DB_POOL_SIZE=0 is invalid: expected 1..=256\n"
    );
}

#[test]
fn admin_key_new_prints_a_key_and_the_line_of_its_digest() {
    let out = tokenbot(&["admin", "key", "new", "alice"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    let key = lines[0].strip_prefix("key:  ").expect("the key line");
    let line = lines[1]
        .strip_prefix("line: ")
        .expect("the configuration line");
    assert!(key.starts_with("tbk_") && key.len() == 68, "{key}");
    assert_eq!(
        line,
        tokenbot_api::auth::AdminKeys::line(
            &tokenbot_api::auth::AdminName::parse("alice").unwrap(),
            key
        )
    );
    assert!(
        !line.contains(key),
        "the line holds the digest, not the key"
    );
    let again = tokenbot(&["admin", "key", "new", "alice"], &[]);
    assert_ne!(stdout(&again), printed, "every key is new");

    let bad = tokenbot(&["admin", "key", "new", "al ice"], &[]);
    assert_eq!(
        stderr(&bad),
        "error: name \"al ice\" is not 1 to 64 letters, digits, '-', '_' or '.'\n"
    );
}

#[test]
fn an_unreachable_postgres_is_said_once_layer_by_layer() {
    // Nothing listens there: the port was free a moment ago and is not bound again.
    let port = tokenbot_testkit::free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/tokenbot");
    let out = tokenbot(&["migrate"], &[("DATABASE_URL", &url)]);
    assert_eq!(
        stderr(&out),
        format!(
            "error: cannot reach Postgres at 127.0.0.1:{port}/tokenbot: cannot open a \
             connection: error connecting to server: Connection refused (os error 111)\n"
        )
    );
    assert_eq!(out.status.code(), Some(1));

    let out = tokenbot(
        &["migrate"],
        &[("DATABASE_URL", &format!("{url}?sslmode=verify"))],
    );
    assert_eq!(
        stderr(&out),
        "error: DATABASE_URL is not usable: sslmode=\"verify\" is not one of disable, prefer, \
         require, verify-ca, verify-full\n"
    );
}

#[test]
fn start_up_lines_go_through_tracing_as_json_when_asked() {
    let port = tokenbot_testkit::free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/tokenbot");
    // `up` without BOT_TOKEN warns at start before it reaches Postgres.
    let out = tokenbot(&["up"], &[("DATABASE_URL", &url), ("LOG_FORMAT", "json")]);
    let err = stderr(&out);
    let mut lines = err.lines();
    let first: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(first["level"], "WARN");
    assert_eq!(first["target"], "lifecycle");
    assert!(
        first["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with("BOT_TOKEN is not set"),
        "{err}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("error: cannot reach Postgres"),
        "{err}"
    );
}

#[test]
fn import_reads_the_source_url_from_a_variable_or_a_file() {
    let port = tokenbot_testkit::free_port();
    let url = format!("postgres://someone:s3cret@127.0.0.1:{port}/original");
    let unreachable =
        format!("error: cannot reach the original database at 127.0.0.1:{port}/original");
    let out = tokenbot(&["import"], &[("IMPORT_SOURCE_URL", &url)]);
    assert!(stderr(&out).starts_with(&unreachable), "{}", stderr(&out));

    let file = std::env::temp_dir().join(format!("tokenbot-import-url-{}", std::process::id()));
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let path = file.to_string_lossy().into_owned();
    let out = tokenbot(&["import", "--from-file", &path], &[]);
    assert!(stderr(&out).starts_with(&unreachable), "{}", stderr(&out));
    let out = tokenbot(&["import"], &[("IMPORT_SOURCE_URL_FILE", &path)]);
    assert!(stderr(&out).starts_with(&unreachable), "{}", stderr(&out));
    std::fs::remove_file(&file).unwrap();
    assert!(!stderr(&out).contains("s3cret"));

    let out = tokenbot(&["import"], &[]);
    assert!(stderr(&out).contains("--from"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
}
