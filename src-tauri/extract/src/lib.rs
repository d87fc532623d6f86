//! Verification codes and links in a raw message.
//!
//! Finding the right code is the product's core promise: a wrong code costs the user a failed
//! sign-up, a missed one costs a wait. So this crate prefers to return nothing over a guess.
//!
//! The pipeline, one module per step:
//!
//! | module         | step                                                                  |
//! |----------------|-----------------------------------------------------------------------|
//! | [`parse`]      | MIME (any charset and transfer encoding) → headers and real bodies    |
//! | [`mime`]       | the same bodies mail-parser finds, without its byte-at-a-time pass   |
//! | [`html`]       | HTML → text blocks that keep emphasis, hidden preheaders and links    |
//! | [`text`]       | plain text → the same blocks                                          |
//! | [`keywords`]   | multilingual labels: code keywords and what-is-not-a-code keywords    |
//! | [`lexicon`]    | verify, reset, password, code, enter in 31 languages, from a catalogue |
//! | [`candidates`] | code-shaped tokens with the context that rules them in or out         |
//! | [`score`]      | picks the code, or nothing when confidence is low                    |
//! | [`links`]      | picks the verification or magic sign-in link                          |
//! | [`service`]    | names the sending service from the sender                             |
//!
//! [`dfa`] holds the search loops the keyword and link word lists share.
//!
//! Every step is bounded: the text scanned, the number of blocks, tokens and links all have caps,
//! so hostile input costs at most a few milliseconds and never panics.
//!
//! # What decides
//!
//! The extractor decides from a message's structure and intent, not from phrases of particular
//! senders, so that it carries over to mail nobody on the team has seen:
//!
//! - **Visibility follows CSS inheritance.** `display:none`, `visibility:hidden`, zero opacity,
//!   `mso-hide:all` and zero height with hidden overflow hide an element and all it holds; a
//!   font too small to read (under 2px) hides it only until a descendant sets its own size,
//!   which is how layouts close the gaps between inline blocks. Hidden text supports a value
//!   the reader sees but never wins alone.
//! - **A code is a scored candidate.** Each token with a code's shape (digit runs and groups,
//!   letter groups, alphanumerics, one digit per cell, digits cut out of words a lost block
//!   boundary glued to them) gets a score that adds up named features with weights from one
//!   table ([`score::Feature::weight`]): its shape, the nearest label before or after it and
//!   how far it is (in the same block, the sentence or cell that introduces it, or the subject
//!   for a value that stands alone or large), whether it stands alone or is emphasised, its
//!   position, repeats (subject, preheader), and whether the message is a one-line notification
//!   that says what the number is for. A label that names something else (order, tracking,
//!   meeting, amount) rules a candidate out; so do a currency before it, a unit after it, or a
//!   user name's shape in the subject. The best value wins when it clears
//!   [`score::THRESHOLD`] and leads the next by [`score::TIE`]; otherwise there is no code,
//!   and [`Extraction::candidates`] lists what was considered. [`explain`] prints the parts.
//! - **Parts are alternatives.** The HTML part is read first (it carries emphasis and link
//!   text); the plain-text part answers when the HTML one has no code or no link.
//! - **A link is the action when its text, the sentence before it or its target says so**, in
//!   the languages of the word lists or, in any language, when its target is the one target of
//!   the message whose path names an action (verify, confirm, reset...). An action carries a
//!   token; a password link whose target carries a reset token is the reset itself. Escape
//!   hatches ("if this wasn't you"), purchases, orders, paid subscriptions, articles and
//!   footers are never the action.
//! - **Words come from catalogues.** Labels in many languages are matched as words, also
//!   without their diacritics; the verify, reset, password, code and enter words of
//!   [`lexicon`] are Keycloak's e-mail translations in 31 languages.

pub mod blocks;
pub mod candidates;
pub mod dfa;
pub mod html;
pub mod keywords;
pub mod lexicon;
pub mod links;
pub mod mime;
pub mod parse;
pub mod score;
pub mod service;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::score::{Source, Verdict};

/// What a message holds for the user.
///
/// Serializes to the JSON object the CLI prints: `code`, `link`, `service`, `confidence`,
/// `candidates`, then the message's own fields in camelCase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extraction {
    /// The code as the user types it: separators removed, case and leading zeros kept. `None`
    /// when no value is clearly a code, or when two values tie.
    pub code: Option<String>,
    /// The verification, magic sign-in or password-reset link.
    pub link: Option<String>,
    /// The sending service, by name.
    pub service: Option<String>,
    /// 0 to 1: how sure the extractor is of the code, or of the link when there is no code.
    pub confidence: f32,
    /// Every value that scored as a possible code, best first, so that automation can choose
    /// when [`Extraction::code`] is `None` because of a tie.
    #[serde(default)]
    pub candidates: Vec<CodeCandidate>,
    /// From header, decoded, as `Name <address>` or the bare address.
    pub from: Option<String>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// Date header as RFC 3339.
    pub received: Option<String>,
    /// Message-ID.
    pub message_id: Option<String>,
    /// The first visible text, at most 200 characters.
    pub snippet: String,
}

/// A value that could be the code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeCandidate {
    /// The value as the user would type it.
    pub value: String,
    /// 0 to 1, from its own score (the winner's [`Extraction::confidence`] also counts its lead).
    pub confidence: f32,
    /// Where its best occurrence is: `subject` or `body`. Hidden text (a preheader) only adds
    /// weight to a value the reader also sees, so it is never where a candidate is found.
    pub found: String,
    /// The text around it.
    pub context: String,
}

/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 200;
/// Most candidates reported.
const MAX_CANDIDATES: usize = 8;

/// Everything [`extract`] decided, with the reasons: what [`explain`] prints.
struct Decision {
    extraction: Extraction,
    verdict: Verdict,
    /// The code or link came from the plain-text part because the HTML one had none.
    from_alternative: bool,
}

fn decide(raw: &[u8]) -> Decision {
    let message = parse::parse(raw);
    let doc = message.document();
    let subject = message.subject.clone().unwrap_or_default();

    let mut verdict = score::judge(&subject, &doc);
    let mut link = links::find_link(&subject, &doc);
    // The plain-text part is read only when the HTML one lacks something: the two disagree
    // more often than one would think (an HTML part first in a nested multipart, a text part
    // written separately from the template).
    let mut from_alternative = false;
    let tied = verdict.code.is_none() && verdict.considered.first().is_some_and(|c| c.score >= score::THRESHOLD);
    if ((verdict.code.is_none() && !tied) || link.is_none())
        && let Some(alt) = message.alternative_document()
    {
        if verdict.code.is_none() && !tied {
            let other = score::judge(&subject, &alt);
            if other.code.is_some() {
                verdict = other;
                from_alternative = true;
            }
        }
        if link.is_none() {
            link = links::find_link(&subject, &alt);
            from_alternative |= link.is_some();
        }
    }
    let service = service::recognise(message.from_address.as_deref(), message.from_name.as_deref());

    let confidence = match (&verdict.code, &link) {
        (Some(c), _) => c.confidence,
        (None, Some(l)) => l.confidence,
        (None, None) => 0.0,
    };
    let candidates = verdict
        .considered
        .iter()
        .take(MAX_CANDIDATES)
        .map(|c| CodeCandidate {
            value: c.value.clone(),
            confidence: c.confidence,
            found: match c.source {
                Source::Subject => "subject",
                Source::Body => "body",
                Source::Hidden => "hidden",
            }
            .to_string(),
            context: c.context.clone(),
        })
        .collect();
    let extraction = Extraction {
        code: verdict.code.as_ref().map(|c| c.value.clone()),
        link: link.map(|l| l.href),
        service,
        confidence: (confidence * 100.0).round() / 100.0,
        candidates,
        from: message.from_display(),
        subject: message.subject,
        received: message.received,
        message_id: message.message_id,
        snippet: doc.snippet(SNIPPET_CHARS),
    };
    Decision { extraction, verdict, from_alternative }
}

/// Parses a whole RFC 5322 message and finds its code, link and service.
///
/// Never panics; malformed input yields an [`Extraction`] with whatever could be read.
pub fn extract(raw: &[u8]) -> Extraction {
    decide(raw).extraction
}

/// Why the code won, and what else was considered: one line per value with its score and the
/// features behind it. The same input always gives the same text.
pub fn explain(raw: &[u8]) -> String {
    use std::fmt::Write as _;
    let d = decide(raw);
    let mut out = String::new();
    let threshold = score::THRESHOLD;
    match (&d.verdict.code, d.verdict.considered.as_slice()) {
        (Some(code), rest) => {
            let second = rest.get(1).map_or(0.0, |c| c.score);
            let _ = writeln!(
                out,
                "code {}: score {:.2} clears the threshold {threshold:.1} and leads the next value by {:.2}",
                code.value,
                code.score,
                code.score - second
            );
        }
        (None, [first, second, ..]) if first.score >= threshold && first.score - second.score < score::TIE => {
            let _ = writeln!(
                out,
                "no code: {} ({:.2}) and {} ({:.2}) tie (closer than {:.1})",
                first.value,
                first.score,
                second.value,
                second.score,
                score::TIE
            );
        }
        (None, [first, ..]) => {
            let _ = writeln!(
                out,
                "no code: the best value, {} ({:.2}), is under the threshold {threshold:.1}",
                first.value, first.score
            );
        }
        (None, []) => {
            let _ = writeln!(out, "no code: nothing code-shaped next to a code label");
        }
    }
    if d.from_alternative {
        let _ = writeln!(out, "(found in the plain-text part: the HTML part had none)");
    }
    for c in &d.verdict.considered {
        let found = match c.source {
            Source::Subject => "subject".to_string(),
            Source::Body => format!("body block {}", c.block.unwrap_or(0)),
            Source::Hidden => format!("hidden block {}", c.block.unwrap_or(0)),
        };
        let _ = writeln!(out, "  {:<12} {:>6.2}  {found}: \"{}\"", c.value, c.score, c.context);
        for (feature, value) in &c.breakdown.parts {
            let _ = writeln!(out, "      {value:+6.2}  {}", feature.name());
        }
    }
    match &d.extraction.link {
        Some(link) => {
            let _ = writeln!(out, "link {link}");
        }
        None => {
            let _ = writeln!(out, "no link");
        }
    }
    out
}
