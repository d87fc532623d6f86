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
//! | [`candidates`] | code-shaped tokens with the context that rules them in or out         |
//! | [`score`]      | picks the code, or nothing when confidence is low                    |
//! | [`links`]      | picks the verification or magic sign-in link                          |
//! | [`service`]    | names the sending service from the sender                             |
//!
//! [`dfa`] holds the search loops the keyword and link word lists share.
//!
//! Every step is bounded: the text scanned, the number of blocks, tokens and links all have caps,
//! so hostile input costs at most a few milliseconds and never panics.

pub mod blocks;
pub mod candidates;
pub mod dfa;
pub mod html;
pub mod keywords;
pub mod links;
pub mod mime;
pub mod parse;
pub mod score;
pub mod service;
pub mod text;

use serde::{Deserialize, Serialize};

/// What a message holds for the user.
///
/// Serializes to the JSON object the CLI prints: `code`, `link`, `service`, `confidence`, then
/// the message's own fields in camelCase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extraction {
    /// The code as the user types it: separators removed, case and leading zeros kept.
    pub code: Option<String>,
    /// The verification or magic sign-in link.
    pub link: Option<String>,
    /// The sending service, by name.
    pub service: Option<String>,
    /// 0 to 1: how sure the extractor is of the code, or of the link when there is no code.
    pub confidence: f32,
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

/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 200;

/// Parses a whole RFC 5322 message and finds its code, link and service.
///
/// Never panics; malformed input yields an [`Extraction`] with whatever could be read.
pub fn extract(raw: &[u8]) -> Extraction {
    let message = parse::parse(raw);
    let doc = message.document();
    let subject = message.subject.clone().unwrap_or_default();

    let code = score::find_code(&subject, &doc);
    let link = links::find_link(&subject, &doc);
    let service = service::recognise(message.from_address.as_deref(), message.from_name.as_deref());

    let confidence = match (&code, &link) {
        (Some(c), _) => c.confidence,
        (None, Some(l)) => l.confidence,
        (None, None) => 0.0,
    };
    Extraction {
        code: code.map(|c| c.value),
        link: link.map(|l| l.href),
        service,
        confidence: (confidence * 100.0).round() / 100.0,
        from: message.from_display(),
        subject: message.subject,
        received: message.received,
        message_id: message.message_id,
        snippet: doc.snippet(SNIPPET_CHARS),
    }
}
