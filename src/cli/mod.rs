//! Subcommands of the binary. Thin: parse arguments, call the library, print.

pub mod bench;
pub mod demo;
pub mod import;
pub mod ledger;
pub mod progress;
pub mod projections;
pub mod roles;
pub mod system;
