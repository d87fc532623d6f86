//! MIME: raw bytes → decoded headers and the bodies the sender really wrote.
//!
//! mail-parser (with `full_encoding`) does the charsets, transfer encodings, RFC 2047 words and
//! multipart trees. It also synthesises HTML from a text-only mail and text from an HTML-only
//! one; those copies add nothing, so only parts whose own type is `text/html` or `text/plain`
//! are kept.

use mail_parser::{GetHeader, HeaderName, HeaderValue, MessageParser, PartType};

use crate::blocks::{Document, MAX_TEXT_BYTES};
use crate::mime::Bodies;

/// Largest message read; the tail of anything bigger is ignored (a verification mail is tiny).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;
/// Largest body handed to the HTML or text pass (bytes).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most bodies of each kind looked at.
const MAX_BODIES: usize = 4;

/// The parts of a message the extractor needs.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// Decoded Subject.
    pub subject: Option<String>,
    /// From display name.
    pub from_name: Option<String>,
    /// From address.
    pub from_address: Option<String>,
    /// Date header as RFC 3339.
    pub received: Option<String>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// Bodies sent as `text/html`, in order.
    pub html: Vec<String>,
    /// Bodies sent as `text/plain`, in order.
    pub text: Vec<String>,
}

impl Message {
    /// From as a reader sees it: `Name <address>`, or whichever half exists.
    pub fn from_display(&self) -> Option<String> {
        match (&self.from_name, &self.from_address) {
            (Some(n), Some(a)) => Some(format!("{n} <{a}>")),
            (Some(n), None) => Some(n.clone()),
            (None, Some(a)) => Some(a.clone()),
            (None, None) => None,
        }
    }

    /// The bodies as one document: the HTML when there is any (it carries emphasis and link
    /// text), otherwise the plain text.
    pub fn document(&self) -> Document {
        self.document_of(!self.html.is_empty())
    }

    /// The plain-text bodies as a document, when the message also has HTML ones: senders'
    /// two versions do not always say the same thing, and the text one is the fallback.
    pub fn alternative_document(&self) -> Option<Document> {
        (!self.html.is_empty() && !self.text.is_empty()).then(|| self.document_of(false))
    }

    fn document_of(&self, html: bool) -> Document {
        let mut doc = Document::default();
        if html {
            for body in &self.html {
                doc.append(crate::html::to_document(body));
            }
        } else {
            for body in &self.text {
                doc.append(crate::text::to_document(body));
            }
        }
        doc
    }
}

/// Parses a raw RFC 5322 message. Never fails: unreadable parts are skipped.
pub fn parse(raw: &[u8]) -> Message {
    let raw = &raw[..raw.len().min(MAX_MESSAGE_BYTES)];
    let mut message = Message::default();
    let (headers, bodies) = crate::mime::read(raw);
    // The top-level headers as `MessageParser::parse_headers` reads them. Without a single
    // header line there is no metadata (every look-up below finds nothing), but there may still
    // be a body.
    let headers = headers
        .or_else(|| {
            MessageParser::default().parse_headers(raw).and_then(|m| m.parts.into_iter().next()).map(|p| p.headers)
        })
        .unwrap_or_default();
    let header = |name: HeaderName<'static>| headers.header_value(&name);
    message.subject = header(HeaderName::Subject).and_then(HeaderValue::as_text).map(clean_header);
    message.received = header(HeaderName::Date).and_then(HeaderValue::as_datetime).map(|d| d.to_rfc3339());
    message.message_id = header(HeaderName::MessageId).and_then(HeaderValue::as_text).map(str::to_string);
    if let Some(addr) = header(HeaderName::From).and_then(HeaderValue::as_address).and_then(|f| f.first()) {
        message.from_name = addr.name().map(clean_header).filter(|n| !n.is_empty());
        message.from_address = addr.address().map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
    }
    let bodies = bodies.unwrap_or_else(|| full_parse_bodies(raw));
    // Bodies in the order mail-parser chose them, which follows multipart/alternative rules.
    message.html = bodies.html.into_iter().take(MAX_BODIES).map(|b| truncated(b, MAX_BODY_BYTES)).collect();
    message.text = bodies.text.into_iter().take(MAX_BODIES).map(|b| truncated(b, MAX_TEXT_BYTES)).collect();
    message
}

/// The bodies as mail-parser's full pass finds them, for what [`crate::mime`] does not cover.
pub fn full_parse_bodies(raw: &[u8]) -> Bodies {
    let Some(parsed) = MessageParser::default().parse(raw) else {
        return Bodies::default();
    };
    let mut bodies = Bodies::default();
    for &id in &parsed.html_body {
        if let Some(PartType::Html(html)) = parsed.parts.get(id as usize).map(|p| &p.body) {
            bodies.html.push(html.to_string());
        }
    }
    for &id in &parsed.text_body {
        if let Some(PartType::Text(text)) = parsed.parts.get(id as usize).map(|p| &p.body) {
            bodies.text.push(text.to_string());
        }
    }
    bodies
}

/// Collapses folding whitespace left in a decoded header.
fn clean_header(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` cut to its first `max` bytes, on a character boundary, without a copy.
fn truncated(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while end > 0 && !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The first `max` bytes of `s`, cut on a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
