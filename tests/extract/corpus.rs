//! Runs the extractor over a corpus folder (`NNN.eml` beside `NNN.expected.json`) and counts
//! how it did. Shared by the golden test and the `report` example, which runs any folder.
//!
//! How the figures are counted (per message):
//! - code precision = correct codes / codes returned (a code returned for a negative counts
//!   as returned and wrong);
//! - code recall = correct codes / messages whose expected code is not null;
//! - link precision and recall likewise, with the link compared as an exact string;
//! - service is compared only where the expected file names one.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One fixture's outcome.
pub struct Outcome {
    /// File name of the message.
    pub name: String,
    /// Free-text description from the expected file.
    pub note: String,
    /// Field-by-field differences, empty when everything matched.
    pub diffs: Vec<String>,
}

/// Counts over a corpus.
#[derive(Default, Debug)]
pub struct Figures {
    pub messages: usize,
    pub negatives: usize,
    pub non_english: usize,
    pub codes_expected: usize,
    pub codes_returned: usize,
    pub codes_correct: usize,
    pub links_expected: usize,
    pub links_returned: usize,
    pub links_correct: usize,
    pub services_expected: usize,
    pub services_correct: usize,
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

impl Figures {
    pub fn code_precision(&self) -> f64 {
        ratio(self.codes_correct, self.codes_returned)
    }
    pub fn code_recall(&self) -> f64 {
        ratio(self.codes_correct, self.codes_expected)
    }
    pub fn link_precision(&self) -> f64 {
        ratio(self.links_correct, self.links_returned)
    }
    pub fn link_recall(&self) -> f64 {
        ratio(self.links_correct, self.links_expected)
    }
    pub fn service_accuracy(&self) -> f64 {
        ratio(self.services_correct, self.services_expected)
    }

    /// The figures as a few readable lines.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "corpus: {} messages, {} negatives (no code, no link), {} not in English",
            self.messages, self.negatives, self.non_english
        );
        let _ = writeln!(
            s,
            "code:    precision {:.4} ({}/{})  recall {:.4} ({}/{})",
            self.code_precision(),
            self.codes_correct,
            self.codes_returned,
            self.code_recall(),
            self.codes_correct,
            self.codes_expected
        );
        let _ = writeln!(
            s,
            "link:    precision {:.4} ({}/{})  recall {:.4} ({}/{})",
            self.link_precision(),
            self.links_correct,
            self.links_returned,
            self.link_recall(),
            self.links_correct,
            self.links_expected
        );
        let _ = writeln!(
            s,
            "service: accuracy {:.4} ({}/{})",
            self.service_accuracy(),
            self.services_correct,
            self.services_expected
        );
        s
    }
}

/// The `.eml` files of a folder, sorted.
pub fn messages(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
}

fn field(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_string)
}

/// Runs every fixture in `dir`.
pub fn run(dir: &Path) -> (Figures, Vec<Outcome>) {
    let mut fig = Figures::default();
    let mut outcomes = Vec::new();
    for eml in messages(dir) {
        let name = eml.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let expected_path = eml.with_extension("expected.json");
        let raw = match std::fs::read(&eml) {
            Ok(r) => r,
            Err(e) => {
                outcomes.push(Outcome { name, note: String::new(), diffs: vec![format!("cannot read: {e}")] });
                continue;
            }
        };
        let expected: serde_json::Value = match std::fs::read_to_string(&expected_path)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                outcomes.push(Outcome {
                    name,
                    note: String::new(),
                    diffs: vec![format!("cannot read expected file: {e}")],
                });
                continue;
            }
        };
        let got = mailwatch_extract::extract(&raw);
        let want_code = field(&expected, "code");
        let want_link = field(&expected, "link");
        let want_service = field(&expected, "service");
        let note = field(&expected, "note").unwrap_or_default();

        fig.messages += 1;
        if want_code.is_none() && want_link.is_none() {
            fig.negatives += 1;
        }
        if field(&expected, "lang").is_some_and(|l| l != "en") {
            fig.non_english += 1;
        }
        let mut diffs = Vec::new();
        fig.codes_expected += usize::from(want_code.is_some());
        fig.codes_returned += usize::from(got.code.is_some());
        if got.code.is_some() && got.code == want_code {
            fig.codes_correct += 1;
        }
        if got.code != want_code {
            diffs
                .push(format!("code:    expected {:?}, got {:?} (confidence {})", want_code, got.code, got.confidence));
        }
        fig.links_expected += usize::from(want_link.is_some());
        fig.links_returned += usize::from(got.link.is_some());
        if got.link.is_some() && got.link == want_link {
            fig.links_correct += 1;
        }
        if got.link != want_link {
            diffs.push(format!("link:    expected {:?}\n             got {:?}", want_link, got.link));
        }
        if let Some(want) = want_service {
            fig.services_expected += 1;
            if got.service.as_deref() == Some(want.as_str()) {
                fig.services_correct += 1;
            } else {
                diffs.push(format!("service: expected {:?}, got {:?}", want, got.service));
            }
        }
        outcomes.push(Outcome { name, note, diffs });
    }
    (fig, outcomes)
}
