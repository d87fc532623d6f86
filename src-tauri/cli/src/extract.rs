//! `mailwatch-cli extract`: the JSON object for one message, or with `--explain` why its code
//! won and what else was considered.

/// Prints what `raw` holds: the extraction as one JSON line, or the explanation.
pub(crate) fn print(raw: &[u8], explain: bool) {
    if explain {
        print!("{}", mailwatch_engine::extract::explain(raw));
    } else {
        let x = mailwatch_engine::extract::extract(raw);
        println!("{}", serde_json::to_string(&x).unwrap_or_else(|_| "{}".into()));
    }
}
