//! tokenbot as a library: the configuration, the connections every process makes at start, and
//! [`system::System`], the one composition of the roles (relay, projector, worker, bot, HTTP
//! API) that the binary's commands, the demo, the benchmarks and the end-to-end tests all start.
//! The `demo` feature (on by default) adds `tokenbot demo` and `tokenbot bench`, which run the
//! system against in-process fakes of Telegram and OpenAI; a production build leaves it out and
//! links no fake.

pub mod cli;
pub mod configuration;
pub mod import;
pub mod startup;
pub mod system;
pub mod telemetry;
