//! Rebuilds the crate when a migration is added or changed: refinery embeds `sql/` at compile
//! time, and cargo cannot see that the macro reads that directory.

fn main() {
    println!("cargo:rerun-if-changed=../sql");
}
