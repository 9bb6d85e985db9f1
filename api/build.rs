//! Names the build for the `tokenbot_build_info` gauge: the compiler's version (`$RUSTC
//! --version`) and the git commit, taken from the environment variable `TOKENBOT_GIT_SHA` at
//! build time (the Dockerfile passes it as a build argument). Asking git here instead would
//! rebuild this crate and everything above it on every commit, and the image's build context
//! has no `.git`; without the variable the sha is `unknown`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TOKENBOT_GIT_SHA");
    println!("cargo:rerun-if-changed=build.rs");
    let sha = std::env::var("TOKENBOT_GIT_SHA")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map_or_else(|| "unknown".to_string(), |s| s.trim().to_string());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=TOKENBOT_GIT_SHA={sha}");
    println!("cargo:rustc-env=TOKENBOT_RUSTC_VERSION={version}");
}
