//! Finding and running server binaries.

use std::path::PathBuf;
use std::process::Command;

/// `name` on PATH, or the newest Postgres bin directory, or /usr/sbin.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::env::split_paths(&path).map(|d| d.join(name)).collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin").join(name))
            .collect();
        versions.sort();
        versions.reverse();
        candidates.extend(versions);
    }
    candidates.push(PathBuf::from("/usr/sbin").join(name));
    candidates.into_iter().find(|p| p.is_file())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a Postgres tool, as the `postgres` user when we are root (initdb refuses root).
pub fn run_as_postgres(
    binary: &std::path::Path,
    args: &[&str],
) -> std::io::Result<std::process::Output> {
    if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(binary)
            .args(args)
            .output()
    } else {
        Command::new(binary).args(args).output()
    }
}
