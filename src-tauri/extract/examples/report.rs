//! Precision, recall and link accuracy over any corpus folder of `NNN.eml` + `NNN.expected.json`
//! (the golden corpus by default), with a diff for every message that does not match.
//!
//! Run: `cargo run -p mailwatch-extract --release --example report -- [DIR]`

#[path = "../../../tests/extract/corpus.rs"]
mod corpus;

use std::path::PathBuf;

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus"));
    let (fig, outcomes) = corpus::run(&dir);
    for o in outcomes.iter().filter(|o| !o.diffs.is_empty()) {
        println!("--- {} ({})", o.name, o.note);
        for d in &o.diffs {
            println!("    {d}");
        }
    }
    print!("{}", fig.report());
    if fig.messages == 0 {
        eprintln!("no NNN.eml files in {}", dir.display());
        std::process::exit(2);
    }
}
