//! Prints the same JSON object as `mailwatch-cli extract --json FILE`, from this crate alone, so
//! that extraction can be measured without building the CLI.
//!
//! Run: `cargo run -p mailwatch-extract --release --example extract_json -- FILE`

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: extract_json FILE");
        std::process::exit(2);
    };
    let raw = match std::fs::read(&path) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.to_string_lossy());
            std::process::exit(1);
        }
    };
    let x = mailwatch_extract::extract(&raw);
    println!("{}", serde_json::to_string(&x).unwrap_or_else(|_| "{}".into()));
}
