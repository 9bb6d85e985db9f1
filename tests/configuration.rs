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
    let cases: [Refusal; 8] = [
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
