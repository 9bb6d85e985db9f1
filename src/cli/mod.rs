//! Subcommands of the binary. Thin: parse arguments, call the library, print.

pub mod bench;
pub mod checkpoints;
pub mod demo;
pub mod export;
pub mod import;
pub mod ledger;
pub mod progress;
pub mod projections;
pub mod roles;
pub mod system;
