//! Finding server binaries, running them as the right user, and cleaning up after the test
//! process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Why a private server could not be started. Only ever turned into a panic message, so the
/// variants carry what a person needs to fix the machine.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("`{binary}` not found on PATH, in /usr/lib/postgresql/*/bin or in /usr/sbin; {hint}")]
    NotFound {
        binary: &'static str,
        hint: &'static str,
    },
    #[error("could not run {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status}): {output}")]
    Failed {
        what: String,
        status: std::process::ExitStatus,
        output: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// `name` on PATH, else in the newest `/usr/lib/postgresql/<version>/bin` (Debian keeps the
/// Postgres tools there, off PATH), else in `/usr/sbin` (Debian's nats-server).
pub(crate) fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path).map(|dir| dir.join(name));
    let postgres_dirs = postgres_bin_dirs().into_iter().map(|dir| dir.join(name));
    on_path
        .chain(postgres_dirs)
        .chain([Path::new("/usr/sbin").join(name)])
        .find(|candidate| candidate.is_file())
}

/// `/usr/lib/postgresql/*/bin`, newest version first. Versions compare as numbers so that 15
/// beats 9.6.
fn postgres_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u64>, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            let key = entry
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|part| part.parse().unwrap_or(0))
                .collect();
            (key, entry.path().join("bin"))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// Whether this process runs as root. Asked of `id -u` so the crate needs no `libc`.
pub(crate) fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

/// A command for a Postgres tool: as the `postgres` user when we are root, because `initdb`
/// and `postgres` refuse to run as root (CI runs as root).
pub(crate) fn postgres_tool(binary: &Path, args: &[String]) -> Command {
    if !is_root() {
        let mut command = Command::new(binary);
        command.args(args);
        return command;
    }
    if let Some(runuser) = find_binary("runuser") {
        let mut command = Command::new(runuser);
        command
            .args(["-u", "postgres", "--"])
            .arg(binary)
            .args(args);
        command
    } else {
        let mut command = Command::new("su");
        command.args(["postgres", "-s", "/bin/sh", "-c", &shell_line(binary, args)]);
        command
    }
}

/// The same invocation as [`postgres_tool`], as one line for `sh`.
pub(crate) fn postgres_tool_line(binary: &Path, args: &[String]) -> String {
    let command = postgres_tool(binary, args);
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| shell_quote(&word.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command to completion; a non-zero exit becomes an error carrying its output.
pub(crate) fn run(what: &str, mut command: Command) -> Result<(), StartError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| StartError::Spawn {
            what: what.to_string(),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(StartError::Failed {
            what: what.to_string(),
            status: output.status,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

/// Runs `cleanup` (a `sh` script) once this test process has exited.
///
/// Rust runs no destructors for statics and has no `atexit` without `libc`, and a private server
/// must not outlive the tests that started it. So a small detached `sh` polls for our pid and
/// cleans up after it is gone, whether the tests passed, panicked or were interrupted (it ignores
/// SIGINT/SIGHUP so a Ctrl-C that kills the test run does not kill the cleanup too). Best effort:
/// if `sh` cannot be started the server stays up and the temp dir stays behind, which only costs
/// disk until reboot.
pub(crate) fn cleanup_after_exit(cleanup: &str) {
    let script =
        format!("trap '' INT HUP; while kill -0 \"$1\" 2>/dev/null; do sleep 0.5; done; {cleanup}");
    let spawned = Command::new("sh")
        .args(["-c", &script, "testkit-cleanup"])
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        warn(&format!(
            "cannot arrange cleanup at exit ({e}); left: {cleanup}"
        ));
    }
}

fn shell_line(binary: &Path, args: &[String]) -> String {
    std::iter::once(binary.to_string_lossy().into_owned())
        .chain(args.iter().cloned())
        .map(|word| shell_quote(&word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Single-quotes a word for `sh`.
pub(crate) fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Reports something a person should see. Tests rarely install a tracing subscriber, so this
/// goes to stderr as well (libtest shows it with the failing test's output).
pub(crate) fn warn(message: &str) {
    tracing::warn!("{message}");
    eprintln!("testkit: {message}");
}

static SERVERS_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Puts private servers' data under `dir` instead of the system temp dir (`tokenbot demo` keeps
/// it inside the project). Only the first call counts.
pub fn set_servers_dir(dir: PathBuf) {
    let _ = SERVERS_DIR.set(dir);
}

/// A fresh directory under the system temp dir (or the one given to [`set_servers_dir`]), named
/// after this process and a random suffix so that parallel test processes and stale leftovers
/// never collide.
pub(crate) fn temp_dir(kind: &str) -> Result<PathBuf, StartError> {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let base = SERVERS_DIR
        .get()
        .cloned()
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!(
        "tokenbot-testkit-{kind}-{}-{suffix}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|source| StartError::Io {
        what: format!("cannot create {}", dir.display()),
        source,
    })?;
    Ok(dir)
}
