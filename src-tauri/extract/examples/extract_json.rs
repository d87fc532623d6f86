//! Prints the same JSON object as `mailwatch-cli extract --json FILE`, from this crate alone, so
//! that extraction can be measured without building the CLI.
//!
//! Run: `cargo run -p mailwatch-extract --release --example extract_json -- [--explain] FILE`

fn main() {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let explain = args.first().is_some_and(|a| a == "--explain");
    if explain {
        args.remove(0);
    }
    let Some(path) = args.first() else {
        eprintln!("usage: extract_json [--explain] FILE");
        std::process::exit(2);
    };
    let raw = match std::fs::read(path) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.to_string_lossy());
            std::process::exit(1);
        }
    };
    if explain {
        print!("{}", mailwatch_extract::explain(&raw));
        return;
    }
    let x = mailwatch_extract::extract(&raw);
    println!("{}", serde_json::to_string(&x).unwrap_or_else(|_| "{}".into()));
}
