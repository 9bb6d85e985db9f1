//! `tokenbot`: one binary for every role and every operator tool. Everything is in the library
//! (`tokenbot::cli`); this only runs it and exits with its status.

#[tokio::main]
async fn main() {
    std::process::exit(tokenbot::cli::main().await);
}
