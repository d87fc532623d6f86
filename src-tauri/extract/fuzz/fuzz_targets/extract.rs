//! Any bytes, as a whole message: MIME parsing, HTML and text passes, candidates, labels,
//! links. The extractor must never panic, and what it returns must keep its promises.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let got = mailwatch_extract::extract(data);
    assert!(got.confidence.is_finite() && (0.0..=1.0).contains(&got.confidence));
    assert!(got.snippet.chars().count() <= 200);
    if let Some(code) = &got.code {
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "a code is what the user types");
    }
});
