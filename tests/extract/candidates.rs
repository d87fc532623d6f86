//! The candidates beside the code, the tie rule and `explain`: what automation relies on when
//! the extractor declines to choose.

use mailwatch_extract::{explain, extract};

fn text_mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Demo <noreply@demo.test>\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
    .into_bytes()
}

#[test]
fn a_tie_returns_no_code_but_lists_both() {
    let raw = text_mail("Your codes", "Your verification code is 482913.\nYour verification code is 735120.\n");
    let got = extract(&raw);
    assert_eq!(got.code, None, "two values with the same evidence are a tie, and a tie is no code");
    let values: Vec<&str> = got.candidates.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(values, ["482913", "735120"], "both are offered, in the order found");
    assert!(got.candidates.iter().all(|c| c.found == "body" && c.confidence > 0.0));
}

#[test]
fn the_winner_leads_the_candidates() {
    let raw = text_mail("Sign in", "Your sign-in code is 604718.\nOrder 55120377 ships tomorrow.\n");
    let got = extract(&raw);
    assert_eq!(got.code.as_deref(), Some("604718"));
    assert_eq!(got.candidates.first().map(|c| c.value.as_str()), Some("604718"), "the winner comes first");
    assert!(got.candidates.iter().all(|c| c.value != "55120377"), "a value a label rules out is not a candidate");
    assert!(got.candidates[0].context.contains("sign-in code"), "the context shows where it was found");
}

#[test]
fn explain_names_the_winner_its_features_and_the_rest() {
    let raw = text_mail("Sign in", "Your sign-in code is 604718.\n");
    let why = explain(&raw);
    assert!(why.starts_with("code 604718: score"), "the first line names the winner: {why}");
    assert!(why.contains("code label nearby"), "the features behind the score are listed: {why}");
    assert_eq!(why, explain(&raw), "the same input always gives the same explanation");

    let tie = explain(&text_mail("Codes", "Your verification code is 482913.\nYour verification code is 735120.\n"));
    assert!(tie.starts_with("no code: 482913"), "a tie says which values tied: {tie}");
}
