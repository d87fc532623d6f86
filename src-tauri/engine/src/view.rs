//! A message as the viewer shows it: its headers, and the body as it was sent (HTML, or
//! text when it has no HTML part), with a note of whether the HTML loads remote images.
//! The viewer itself (a sandboxed frame that runs no scripts) is the shell's.

use serde::Serialize;

/// A message ready for the sandboxed viewer: its headers, and its body as HTML (or as text
/// when it has no HTML part). The window shows the HTML in an iframe that runs no scripts and
/// loads no remote content unless the user allows images.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Sender.
    pub from: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Date header, as sent.
    pub date: Option<String>,
    /// The HTML body, if the message has one.
    pub html: Option<String>,
    /// The text body, if the message has one.
    pub text: Option<String>,
    /// Whether the HTML refers to remote images (so the window can offer to load them).
    pub remote_images: bool,
    /// The message's whole size in bytes when it was larger than the viewer's cap and only
    /// its start is shown.
    pub truncated_from: Option<usize>,
}

/// Parses a raw message into what the viewer shows, at most `max_bytes` of it: a larger
/// message is parsed from its start (headers and the first parts, where codes are) and says
/// so in [`MessageView::truncated_from`].
pub fn view(raw: &[u8], max_bytes: usize) -> MessageView {
    let truncated_from = (raw.len() > max_bytes).then_some(raw.len());
    let raw = &raw[..raw.len().min(max_bytes)];
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return MessageView {
            from: None,
            subject: None,
            date: None,
            html: None,
            text: Some(String::from_utf8_lossy(raw).into_owned()),
            remote_images: false,
            truncated_from,
        };
    };
    let from = message.from().and_then(|a| a.first()).map(|a| match (a.name(), a.address()) {
        (Some(name), Some(address)) => format!("{name} <{address}>"),
        (None, Some(address)) => address.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => String::new(),
    });
    // mail-parser makes HTML from a text-only message (and the reverse); keep only what was
    // really sent, by looking at the part's own type.
    let sent_html = message.html_part(0).is_some_and(|p| p.is_text_html());
    let html = if sent_html { message.body_html(0).map(|h| h.into_owned()) } else { None };
    let text = message.body_text(0).map(|t| t.into_owned());
    let remote_images = html.as_deref().is_some_and(has_remote_images);
    MessageView {
        from,
        subject: message.subject().map(str::to_string),
        date: message.date().map(|d| d.to_rfc3339()),
        html,
        text,
        remote_images,
        truncated_from,
    }
}

fn has_remote_images(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    ["src=\"http", "src='http", "src=http", "url(http", "url('http", "url(\"http"].iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_viewer_gets_the_html_part_and_notices_remote_images() {
        let raw = b"From: GitHub <noreply@github.com>\r\nSubject: Your code\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nCode 123456\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Code <b>123456</b><img src=\"https://t.example/p.gif\"></p>\r\n--b--\r\n";
        let v = view(raw, 1 << 20);
        assert_eq!(v.from.as_deref(), Some("GitHub <noreply@github.com>"));
        assert!(v.html.as_deref().unwrap().contains("<b>123456</b>"));
        assert!(v.remote_images);
        let text_only = view(b"Subject: x\r\n\r\nhello\r\n", 1 << 20);
        assert!(text_only.html.is_none(), "no HTML is invented for a text-only message");
        assert_eq!(text_only.text.as_deref().map(str::trim), Some("hello"));
    }

    #[test]
    fn a_message_over_the_cap_is_shown_from_its_start_with_its_size() {
        let mut raw = b"From: GitHub <noreply@github.com>\r\nSubject: Your code\r\nContent-Type: text/plain\r\n\r\nYour code is 123456.\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 100_000));
        let v = view(&raw, 4096);
        assert_eq!(v.truncated_from, Some(raw.len()), "the view says it was cut, and from what size");
        assert_eq!(v.subject.as_deref(), Some("Your code"));
        let text = v.text.unwrap_or_default();
        assert!(text.contains("123456"), "the start, where the code is, is shown");
        assert!(text.len() <= 4096, "no more than the cap was parsed: {} bytes of text", text.len());
        assert_eq!(view(&raw, raw.len()).truncated_from, None, "a message within the cap is whole");
    }
}
