//! Plain text → blocks: one block per non-empty line, and every `http(s)://` URL as a link
//! whose context is the text before it on its line and the line before.

use crate::blocks::{BlockBuilder, Document, Link, MAX_TEXT_BYTES};

/// Turns a plain-text body into blocks and links.
pub fn to_document(text: &str) -> Document {
    let mut b = BlockBuilder::new(false);
    let mut previous = "";
    for line in text.lines() {
        if b.is_full() {
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        // Quoted replies are someone else's text.
        if line.starts_with('>') {
            continue;
        }
        let block = b.current_index();
        for (start, url) in urls(line) {
            let before = line[..start].trim_end_matches(['<', '(', '[', '"', '\'']);
            let mut context = String::with_capacity(before.len() + previous.len() + 1);
            context.push_str(tail(previous, 160));
            context.push(' ');
            context.push_str(before);
            let lead_start = context.len() - before.len();
            b.push_link(Link { href: url.to_string(), context, lead_start, block, ..Link::default() });
        }
        b.push_text(line, 0, false);
        b.flush();
        previous = line;
    }
    b.finish()
}

/// `http://` and `https://` URLs in a line, with their byte offsets.
pub fn urls(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while from < line.len().min(MAX_TEXT_BYTES) && out.len() < 32 {
        let Some(i) = line[from..].find("http") else { break };
        let start = from + i;
        let rest = &line[start..];
        if !(rest.starts_with("https://") || rest.starts_with("http://")) {
            from = start + 4;
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '|'))
            .unwrap_or(rest.len());
        let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}', '*']);
        if url.len() > "https://".len() {
            out.push((start, url));
        }
        from = start + end.max(4);
    }
    out
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
