//! Signed checkpoints from the auditor's side: making a signing key, taking a copy of the
//! checkpoints, and reading them (from that copy or from NATS) for `ledger verify`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use tokenbot_ledger::checkpoint::{CheckpointSigner, PublicKey, SignedCheckpoint, read_all};

use crate::configuration::Settings;

/// Longest wait for NATS when an auditor's command reads checkpoints from it.
const NATS_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `tokenbot ledger checkpoints ...`.
#[derive(Subcommand)]
pub enum CheckpointsCommand {
    /// Write every signed checkpoint on the checkpoint stream as JSON lines (an auditor's copy).
    Export(ExportArgs),
}

/// `tokenbot ledger checkpoints export`: where to write, and the key to check against.
#[derive(Args)]
pub struct ExportArgs {
    /// Write to this file (created; never overwritten) instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The public key to check every signature against (default: LEDGER_PUBLIC_KEY, or the
    /// public half of the configured signing key). Without one, signatures are not checked.
    #[arg(long)]
    public_key: Option<String>,
}

/// `tokenbot ledger keygen`: where to keep the secret key.
#[derive(Args)]
pub struct KeygenArgs {
    /// Write the secret key (64 hex characters) to this file, readable by its owner only, and
    /// print the public key. Without it, both are printed as environment lines.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Where `ledger verify --checkpoints` reads them.
#[derive(Debug, Clone)]
pub enum Source {
    /// The checkpoint stream on NATS_URL.
    Nats,
    /// JSON lines, as `ledger checkpoints export` writes them.
    File(PathBuf),
}

impl Source {
    /// `nats` means the stream; anything else is a file's path.
    pub fn parse(raw: &str) -> Self {
        if raw == "nats" {
            Source::Nats
        } else {
            Source::File(PathBuf::from(raw))
        }
    }
}

/// The key signatures are checked against: given, else configured.
pub fn trusted_key(settings: &Settings, given: Option<&str>) -> anyhow::Result<Option<PublicKey>> {
    match given {
        Some(hex) => Ok(Some(
            PublicKey::from_hex(hex).map_err(|e| anyhow::anyhow!("--public-key: {e}"))?,
        )),
        None => Ok(settings.checkpoints.public_key.clone()),
    }
}

/// Connects to NATS once, without the background retries of the long-running roles: an
/// auditor's command that cannot reach it should say so, not wait.
async fn jetstream_once(settings: &Settings) -> anyhow::Result<async_nats::jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .name("tokenbot-audit")
        .connection_timeout(NATS_CONNECT_TIMEOUT)
        .connect(crate::startup::nats_servers(settings.nats_url.expose())?)
        .await
        .with_context(|| format!("cannot reach NATS at {}", settings.nats_url))?;
    Ok(async_nats::jetstream::new(client))
}

/// Every checkpoint on the stream, oldest first.
async fn from_nats(settings: &Settings) -> anyhow::Result<Vec<SignedCheckpoint>> {
    let js = jetstream_once(settings).await?;
    read_all(&js, &settings.bus).await.with_context(|| {
        format!(
            "cannot read the checkpoint stream {}",
            settings.bus.checkpoint_stream()
        )
    })
}

fn from_file(path: &Path) -> anyhow::Result<Vec<SignedCheckpoint>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the checkpoints file {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            SignedCheckpoint::from_json(line)
                .with_context(|| format!("{} line {}", path.display(), i + 1))
        })
        .collect()
}

/// Reads the checkpoints of `source`; none at all is an error (there is nothing to hold the log
/// against, which an auditor asking for it must hear).
pub async fn load(settings: &Settings, source: &Source) -> anyhow::Result<Vec<SignedCheckpoint>> {
    let (all, whence) = match source {
        Source::Nats => (
            from_nats(settings).await?,
            format!(
                "the stream {} at {}",
                settings.bus.checkpoint_stream(),
                settings.nats_url
            ),
        ),
        Source::File(path) => (from_file(path)?, path.display().to_string()),
    };
    anyhow::ensure!(
        !all.is_empty(),
        "no checkpoints in {whence} (is LEDGER_SIGNING_KEY set for the relay?)"
    );
    Ok(all)
}

/// The first checkpoint whose signature does not verify.
pub fn first_forged<'a>(
    checkpoints: &'a [SignedCheckpoint],
    key: &PublicKey,
) -> Option<&'a SignedCheckpoint> {
    checkpoints.iter().find(|c| c.verify(key).is_err())
}

/// Opens `path` for writing, refusing to replace an existing file (a key, or an auditor's copy).
fn create_new(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))
}

/// Makes a signing key and prints (or writes) it; the secret never goes to an existing file.
pub fn keygen(args: KeygenArgs) -> anyhow::Result<i32> {
    let signer = CheckpointSigner::generate();
    let mut out = std::io::stdout().lock();
    match args.out {
        Some(path) => {
            let mut file = create_new(&path)?;
            writeln!(file, "{}", signer.secret_hex())?;
            file.sync_all()?;
            writeln!(out, "LEDGER_PUBLIC_KEY={}", signer.public_key())?;
            eprintln!(
                "secret key written to {}; point LEDGER_SIGNING_KEY_FILE at it for the relay and give the public key to the auditors",
                path.display()
            );
        }
        None => {
            writeln!(out, "LEDGER_SIGNING_KEY={}", signer.secret_hex())?;
            writeln!(out, "LEDGER_PUBLIC_KEY={}", signer.public_key())?;
        }
    }
    Ok(0)
}

/// Runs a checkpoints subcommand; its exit status (1 when a checkpoint is forged).
pub async fn run(settings: &Settings, cmd: CheckpointsCommand) -> anyhow::Result<i32> {
    match cmd {
        CheckpointsCommand::Export(args) => {
            let key = trusted_key(settings, args.public_key.as_deref())?;
            let all = from_nats(settings).await?;
            let mut sink: Box<dyn Write> = match &args.out {
                Some(path) => Box::new(std::io::BufWriter::new(create_new(path)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            for c in &all {
                writeln!(sink, "{}", c.to_json())?;
            }
            sink.flush()?;
            let newest = all.last().map_or("none".to_string(), |c| {
                format!("seq {} signed at {}", c.seq, c.signed_at.to_rfc3339())
            });
            eprintln!("{} checkpoints exported (newest: {newest})", all.len());
            let Some(key) = key else {
                eprintln!(
                    "signatures not checked: no public key (--public-key or LEDGER_PUBLIC_KEY)"
                );
                return Ok(0);
            };
            match first_forged(&all, &key) {
                None => Ok(0),
                Some(bad) => {
                    eprintln!(
                        "checkpoint at chain seq {} does not verify with public key {key}",
                        bad.seq
                    );
                    Ok(1)
                }
            }
        }
    }
}
