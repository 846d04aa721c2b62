//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the migrations
//! directory, and cargo does not see a new file in it by itself (as sqlx's documentation advises).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
