//! Every message of `tests/corpus` against its expected file, with the corpus figures.

use std::path::PathBuf;

use crate::corpus;

/// Lower bounds the issue sets for the corpus and the figures.
const MIN_MESSAGES: usize = 200;
const MIN_NEGATIVES: usize = 50;
const MIN_NON_ENGLISH: usize = 60;
const CODE_PRECISION: f64 = 0.99;
const CODE_RECALL: f64 = 0.97;
const LINK_PRECISION: f64 = 0.97;
const LINK_RECALL: f64 = 0.95;

pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

#[test]
fn corpus_matches_expected_results() {
    let (fig, outcomes) = corpus::run(&corpus_dir());
    let failures: Vec<_> = outcomes.iter().filter(|o| !o.diffs.is_empty()).collect();
    for o in &failures {
        eprintln!("--- {} ({})", o.name, o.note);
        for d in &o.diffs {
            eprintln!("    {d}");
        }
    }
    eprintln!("\n{}", fig.report());

    assert!(
        fig.messages >= MIN_MESSAGES,
        "only {} fixtures ran; the corpus must hold at least {MIN_MESSAGES}",
        fig.messages
    );
    assert!(fig.negatives >= MIN_NEGATIVES, "only {} negatives; at least {MIN_NEGATIVES} needed", fig.negatives);
    assert!(
        fig.non_english >= MIN_NON_ENGLISH,
        "only {} non-English messages; at least {MIN_NON_ENGLISH} needed",
        fig.non_english
    );
    let targets_met = fig.code_precision() >= CODE_PRECISION
        && fig.code_recall() >= CODE_RECALL
        && fig.link_precision() >= LINK_PRECISION
        && fig.link_recall() >= LINK_RECALL;
    assert!(
        targets_met,
        "targets missed (code P≥{CODE_PRECISION} R≥{CODE_RECALL}, link P≥{LINK_PRECISION} R≥{LINK_RECALL}):\n{}",
        fig.report()
    );
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ from their expected files (diffs above); a fixture that changed on purpose needs its expected file updated",
        failures.len(),
        fig.messages
    );
}

#[test]
fn extraction_serializes_to_the_cli_object() {
    let raw = b"From: GitHub <noreply@github.com>\r\nSubject: Your code\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nYour verification code is 048213.\r\n";
    let got = mailwatch_extract::extract(raw);
    let json: serde_json::Value = serde_json::to_value(&got).expect("an Extraction always serializes");
    assert_eq!(json["code"], "048213", "code is a string with its leading zero");
    assert_eq!(json["service"], "GitHub");
    assert!(json["link"].is_null());
    assert!(json["confidence"].as_f64().is_some_and(|c| c > 0.5 && c <= 1.0));
    assert_eq!(json["received"], "2026-11-21T10:00:00Z");
    assert_eq!(json["messageId"], "a@b", "the rest is camelCase");
    assert!(json["snippet"].as_str().is_some_and(|s| s.starts_with("Your verification code")));
}
