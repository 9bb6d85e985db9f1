//! `tokenbot admin key new <name>`: a fresh admin key and its `ADMIN_API_KEYS` entry. The key is
//! printed once and stored nowhere; only its digest goes into the configuration.

use clap::Subcommand;
use rand::RngCore;
use tokenbot_api::auth::{AdminKeys, AdminName};

/// `tokenbot admin ...`.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// Admin API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// `tokenbot admin key ...`.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Make a key for <name>: prints the key (give it to that person) and the line for
    /// ADMIN_API_KEYS (its SHA-256, never the key).
    New {
        /// Who will hold it (letters, digits, '-', '_', '.'); recorded as the actor of their grants.
        name: String,
    },
}

/// Runs the command; output on stdout, the instructions on stderr.
pub fn run(cmd: AdminCommand) -> anyhow::Result<i32> {
    let AdminCommand::Key(KeyCommand::New { name }) = cmd;
    let name = AdminName::parse(&name)?;
    let key = new_key();
    println!("key:  {key}");
    println!("line: {}", AdminKeys::line(&name, &key));
    eprintln!(
        "give the key to {name} (it is stored nowhere); append the line to ADMIN_API_KEYS \
         (entries separated by commas) and restart the api role"
    );
    Ok(0)
}

/// 32 random bytes in hex, with a prefix that makes a leaked key recognisable in a scan.
fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("tbk_{hex}")
}
