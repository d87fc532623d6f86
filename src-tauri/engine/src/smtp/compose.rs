//! A message to send, built with lettre's builder: UTF-8 headers, text and HTML
//! alternatives, attachments, Message-ID and Date. Nothing here is written by hand.

use std::hash::{BuildHasher, Hasher};

use lettre::Message;
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as Part, Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};

/// What the user wants sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Draft {
    /// The sending account's address.
    pub from: String,
    /// A display name for the sender.
    pub from_name: Option<String>,
    /// Recipients.
    pub to: Vec<String>,
    /// Copies.
    pub cc: Vec<String>,
    /// Blind copies: in the envelope, not in the headers.
    pub bcc: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub text: Option<String>,
    /// The HTML body; with `text`, both go as alternatives.
    pub html: Option<String>,
    /// Files to attach.
    pub attachments: Vec<Attachment>,
    /// The Message-ID this answers, for a reply.
    pub in_reply_to: Option<String>,
}

/// A file attached to a draft.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Attachment {
    /// The file's name as the recipient sees it.
    pub filename: String,
    /// Its MIME type; `application/octet-stream` when unknown.
    pub content_type: String,
    /// Its bytes.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// A message ready for the wire.
#[derive(Debug, Clone)]
pub struct Composed {
    /// Who it goes from and to (Bcc included).
    pub envelope: Envelope,
    /// The RFC 5322 text.
    pub bytes: Vec<u8>,
    /// Its Message-ID, angle brackets included.
    pub message_id: String,
}

/// Why a draft cannot become a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// An address that does not parse.
    #[error("cannot send to {address:?}: it is not an email address ({reason})")]
    BadAddress {
        /// What was given.
        address: String,
        /// Why it does not parse.
        reason: String,
    },
    /// No recipient at all.
    #[error("cannot send a message without a recipient: give at least one --to")]
    NoRecipient,
    /// A content type that does not parse.
    #[error("cannot attach {filename}: {content_type:?} is not a MIME type")]
    BadContentType {
        /// The file.
        filename: String,
        /// The type given.
        content_type: String,
    },
    /// lettre refused the message.
    #[error("cannot build the message: {0}")]
    Build(String),
}

fn mailbox(address: &str, name: Option<&str>) -> Result<Mailbox, ComposeError> {
    let bad =
        |e: &dyn std::fmt::Display| ComposeError::BadAddress { address: address.to_string(), reason: e.to_string() };
    // "Name <addr>" is taken as it is; a bare address gets the display name, if any.
    if address.contains('<') {
        return address.trim().parse::<Mailbox>().map_err(|e| bad(&e));
    }
    let addr = address.trim().parse().map_err(|e| bad(&e))?;
    Ok(Mailbox::new(name.map(str::to_string), addr))
}

/// A Message-ID unique to this message: two random 64-bit halves (the standard library's
/// per-process random hash keys) at the sender's domain.
fn message_id(from: &str) -> String {
    let random = || std::collections::hash_map::RandomState::new().build_hasher().finish();
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    format!("<{:016x}{:016x}@{domain}>", random(), random())
}

/// Builds the message for a draft.
///
/// # Errors
/// [`ComposeError`] for a bad address or content type, or no recipient.
pub fn compose(draft: &Draft) -> Result<Composed, ComposeError> {
    if draft.to.is_empty() && draft.cc.is_empty() && draft.bcc.is_empty() {
        return Err(ComposeError::NoRecipient);
    }
    let message_id = message_id(&draft.from);
    let mut builder = Message::builder()
        .from(mailbox(&draft.from, draft.from_name.as_deref())?)
        .subject(draft.subject.clone())
        .message_id(Some(message_id.clone()))
        .date_now()
        .user_agent(format!("Mailwatch {}", env!("CARGO_PKG_VERSION")));
    for a in &draft.to {
        builder = builder.to(mailbox(a, None)?);
    }
    for a in &draft.cc {
        builder = builder.cc(mailbox(a, None)?);
    }
    for a in &draft.bcc {
        builder = builder.bcc(mailbox(a, None)?);
    }
    if let Some(id) = &draft.in_reply_to {
        builder = builder.in_reply_to(id.clone()).references(id.clone());
    }

    let text = || SinglePart::plain(draft.text.clone().unwrap_or_default());
    let body: Option<MultiPart> = match (&draft.text, &draft.html) {
        (Some(t), Some(h)) => Some(MultiPart::alternative_plain_html(t.clone(), h.clone())),
        _ => None,
    };
    let single = match (&draft.text, &draft.html) {
        (_, Some(h)) if draft.text.is_none() => SinglePart::html(h.clone()),
        _ => text(),
    };
    let message = if draft.attachments.is_empty() {
        match body {
            Some(alt) => builder.multipart(alt),
            None => builder.singlepart(single),
        }
    } else {
        let mut mixed = match body {
            Some(alt) => MultiPart::mixed().multipart(alt),
            None => MultiPart::mixed().singlepart(single),
        };
        for a in &draft.attachments {
            let ct = if a.content_type.is_empty() { "application/octet-stream" } else { &a.content_type };
            let ct = ContentType::parse(ct).map_err(|_| ComposeError::BadContentType {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
            })?;
            mixed = mixed.singlepart(Part::new(a.filename.clone()).body(a.bytes.clone(), ct));
        }
        builder.multipart(mixed)
    }
    .map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(Composed { envelope: message.envelope().clone(), bytes: message.formatted(), message_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Draft {
        Draft {
            from: "alice@example.com".into(),
            to: vec!["bob@example.com".into()],
            subject: "Ваш код 验证码".into(),
            text: Some("Your code is 123456".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_message_has_encoded_headers_an_id_and_a_date() {
        let c = compose(&draft()).unwrap();
        let text = String::from_utf8(c.bytes.clone()).unwrap();
        assert!(text.contains("Subject: =?utf-8?"), "a UTF-8 subject is encoded:\n{text}");
        assert!(text.contains(&format!("Message-ID: {}", c.message_id)), "{text}");
        assert!(text.contains("Date: "), "{text}");
        assert!(text.contains("123456"), "{text}");
        assert!(c.bytes.is_ascii(), "the message needs no 8BITMIME");
        assert_eq!(c.envelope.to().len(), 1);
        assert_ne!(compose(&draft()).unwrap().message_id, c.message_id, "every message gets its own id");
    }

    #[test]
    fn bcc_goes_in_the_envelope_only_and_html_is_an_alternative() {
        let mut d = draft();
        d.bcc = vec!["carol@example.com".into()];
        d.html = Some("<p>Your code is <b>123456</b></p>".into());
        d.attachments =
            vec![Attachment { filename: "a.txt".into(), content_type: "text/plain".into(), bytes: b"hi".to_vec() }];
        let c = compose(&d).unwrap();
        let text = String::from_utf8(c.bytes.clone()).unwrap();
        assert!(!text.contains("carol@"), "Bcc is not in the headers:\n{text}");
        assert_eq!(c.envelope.to().len(), 2, "but it is in the envelope");
        assert!(text.contains("multipart/mixed") && text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("filename=\"a.txt\""), "{text}");
    }

    #[test]
    fn bad_input_is_refused_in_words() {
        let mut d = draft();
        d.to = vec!["not an address".into()];
        assert!(matches!(compose(&d), Err(ComposeError::BadAddress { .. })));
        d.to.clear();
        assert_eq!(compose(&d).unwrap_err(), ComposeError::NoRecipient);
    }
}
