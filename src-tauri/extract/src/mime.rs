//! The bodies of a message, found the way mail-parser finds them, in a fraction of the time.
//!
//! mail-parser's body pass walks every byte through an iterator: looking for the next boundary
//! costs about 11 instructions a byte and decoding quoted-printable about 45, which for a 45 KB
//! HTML mail is more than everything else the extractor does. This module repeats the same walk
//! (mail-parser's `MessageParser::parse_`, for the shapes verification mail comes in) with
//! mail-parser's own header parser and charset decoders, but finds boundaries with `memmem` and
//! decodes quoted-printable a run of plain bytes at a time.
//!
//! It promises the same bodies, byte for byte, in the same order. Whatever it does not cover
//! (attached messages, digests, a part whose boundary never comes, a quoted-printable error)
//! makes it return `None`, and the caller asks mail-parser. A test holds it to that promise over
//! the golden corpus and the fuzz corpus.

use std::borrow::Cow;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::HEX_MAP;
use mail_parser::parsers::MessageStream;
use mail_parser::{ContentType, GetHeader, Header, HeaderName, HeaderValue, MessageParser};

/// A message's `text/html` and `text/plain` bodies, in mail-parser's `html_body` and
/// `text_body` order (only parts that really are HTML or text are listed).
#[derive(Debug, Default, PartialEq)]
pub struct Bodies {
    /// HTML bodies.
    pub html: Vec<String>,
    /// Plain-text bodies.
    pub text: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
enum MimeType {
    MultipartMixed,
    MultipartAlternative,
    MultipartRelated,
    MultipartDigest,
    TextPlain,
    TextHtml,
    TextOther,
    Inline,
    #[default]
    Message,
    Other,
}

/// (is multipart, is inline, is text, type), as mail-parser classifies a part.
fn mime_type(content_type: Option<&ContentType<'_>>, parent: MimeType) -> (bool, bool, bool, MimeType) {
    let Some(ct) = content_type else {
        return if parent == MimeType::MultipartDigest {
            (false, false, false, MimeType::Message)
        } else {
            (false, true, true, MimeType::TextPlain)
        };
    };
    match ct.ctype() {
        "multipart" => (
            true,
            false,
            false,
            match ct.subtype() {
                Some("mixed") => MimeType::MultipartMixed,
                Some("alternative") => MimeType::MultipartAlternative,
                Some("related") => MimeType::MultipartRelated,
                Some("digest") => MimeType::MultipartDigest,
                _ => MimeType::Other,
            },
        ),
        "text" => match ct.subtype() {
            Some("plain") => (false, true, true, MimeType::TextPlain),
            Some("html") => (false, true, true, MimeType::TextHtml),
            _ => (false, false, true, MimeType::TextOther),
        },
        "image" | "audio" | "video" => (false, true, false, MimeType::Inline),
        "message" if matches!(ct.subtype(), Some("rfc822" | "global")) => (false, false, false, MimeType::Message),
        _ => (false, false, false, MimeType::Other),
    }
}

#[derive(Debug, Default)]
struct State {
    mime_type: MimeType,
    boundary: Option<Vec<u8>>,
    in_alternative: bool,
    parts: usize,
    html_parts: usize,
    text_parts: usize,
    need_html_body: bool,
    need_text_body: bool,
}

enum Part {
    Html(String),
    Text(String),
    Other,
}

/// Finds the bodies, or `None` when the message needs mail-parser's full pass.
pub fn bodies(raw: &[u8]) -> Option<Bodies> {
    read(raw).1
}

/// [`bodies`], and the message's own headers as `MessageParser::parse_headers` reads them: the
/// walk parses them first anyway. The headers are `None` when the walk stopped inside the top
/// part (the caller reads them with mail-parser then).
pub fn read(raw: &[u8]) -> (Option<Vec<Header<'_>>>, Option<Bodies>) {
    let mut top = None;
    let bodies = read_into(raw, &mut top);
    (top, bodies)
}

/// Parts read at most: verification mail has a handful, and a message of thousands of tiny
/// parts (a mail bomb) must not cost more than a normal one. The code and the link are in the
/// first parts; later ones are not read.
pub const MAX_PARTS: usize = 1_000;

fn read_into<'x>(raw: &'x [u8], top: &mut Option<Vec<Header<'x>>>) -> Option<Bodies> {
    let parser = MessageParser::default();
    let mut stream = MessageStream::new(raw);
    let mut parts: Vec<Part> = Vec::new();
    let mut html_body: Vec<usize> = Vec::new();
    let mut text_body: Vec<usize> = Vec::new();
    let mut state = State { need_html_body: true, need_text_body: true, ..State::default() };
    let mut stack: Vec<State> = Vec::new();
    let mut headers = Vec::new();

    // The top part's headers are kept for the caller; the others are read and dropped.
    let done_with = |headers: &mut Vec<Header<'x>>, top: &mut Option<Vec<Header<'x>>>| {
        if top.is_none() {
            *top = Some(std::mem::take(headers));
        } else {
            headers.clear();
        }
    };

    'outer: loop {
        if parts.len() >= MAX_PARTS {
            break;
        }
        if !stream.parse_headers(&parser, &mut headers) {
            done_with(&mut headers, top);
            break;
        }
        state.parts += 1;
        let content_type = headers.header_value(&HeaderName::ContentType).and_then(|c| c.as_content_type());
        let (is_multipart, mut is_inline, mut is_text, mut mime) = mime_type(content_type, state.mime_type);

        if is_multipart && let Some(boundary) = content_type.and_then(|c| c.attribute("boundary")) {
            if seek_past(&mut stream, raw, boundary.as_bytes()).is_some() {
                let next = State {
                    in_alternative: state.in_alternative || mime == MimeType::MultipartAlternative,
                    mime_type: mime,
                    boundary: Some(boundary.as_bytes().to_vec()),
                    html_parts: html_body.len(),
                    text_parts: text_body.len(),
                    need_html_body: state.need_html_body,
                    need_text_body: state.need_text_body,
                    ..State::default()
                };
                parts.push(Part::Other);
                done_with(&mut headers, top);
                stack.push(std::mem::replace(&mut state, next));
                stream.skip_crlf();
                continue;
            }
            mime = MimeType::TextOther;
            is_text = true;
        }

        let encoding = match headers.header_value(&HeaderName::ContentTransferEncoding) {
            Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("base64") => Encoding::Base64,
            Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("quoted-printable") => Encoding::QuotedPrintable,
            _ => Encoding::None,
        };
        // Attached and digested messages are parsed recursively: mail-parser's business.
        if mime == MimeType::Message {
            return None;
        }
        let boundary = state.boundary.as_deref().unwrap_or(b"");
        let bytes: Cow<'_, [u8]> = match encoding {
            Encoding::Base64 => {
                let (end, bytes) = stream.decode_base64_mime(boundary);
                if end == usize::MAX {
                    return None;
                }
                bytes
            }
            Encoding::QuotedPrintable => Cow::Owned(quoted_printable(&mut stream, raw, boundary)?),
            Encoding::None => Cow::Borrowed(plain_part(&mut stream, raw, boundary)?),
        };

        let attachment = headers
            .header_value(&HeaderName::ContentDisposition)
            .is_some_and(|d| d.as_content_type().is_some_and(|ct| ct.is_attachment()));
        is_inline = is_inline
            && !attachment
            && (state.parts == 1
                || state.mime_type != MimeType::MultipartRelated
                    && (mime == MimeType::Inline || content_type.is_none_or(|c| !c.has_attribute("name"))));
        let (add_to_html, add_to_text) = if state.mime_type == MimeType::MultipartAlternative {
            match mime {
                MimeType::TextHtml => (true, false),
                MimeType::TextPlain => (false, true),
                _ => (false, false),
            }
        } else if is_inline {
            if state.in_alternative && (state.need_text_body || state.need_html_body) {
                match mime {
                    MimeType::TextHtml => state.need_text_body = false,
                    MimeType::TextPlain => state.need_html_body = false,
                    _ => {}
                }
            }
            (state.need_html_body, state.need_text_body)
        } else {
            (false, false)
        };
        if add_to_html {
            html_body.push(parts.len());
        }
        if add_to_text {
            text_body.push(parts.len());
        }
        let part = if is_text {
            let decoder =
                content_type.and_then(|ct| ct.attribute("charset").and_then(|c| charset_decoder(c.as_bytes())));
            let text = match (bytes, decoder) {
                (bytes, Some(decode)) => decode(&bytes),
                (Cow::Owned(vec), None) => {
                    String::from_utf8(vec).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
                }
                (Cow::Borrowed(bytes), None) => match std::str::from_utf8(bytes) {
                    Ok(s) => s.to_string(),
                    Err(_) => String::from_utf8_lossy(bytes).into_owned(),
                },
            };
            if mime == MimeType::TextHtml { Part::Html(text) } else { Part::Text(text) }
        } else {
            Part::Other
        };
        parts.push(part);
        done_with(&mut headers, top);

        if state.boundary.is_some() {
            loop {
                if !stream.is_multipart_end() {
                    // The next part's headers follow.
                    break;
                }
                if state.mime_type == MimeType::MultipartAlternative && state.need_html_body && state.need_text_body {
                    // Only HTML, or only text: it serves as both.
                    if state.text_parts == text_body.len() && state.html_parts != html_body.len() {
                        text_body.extend_from_slice(&html_body[state.html_parts..]);
                    }
                    if state.html_parts == html_body.len() && state.text_parts != text_body.len() {
                        html_body.extend_from_slice(&text_body[state.text_parts..]);
                    }
                }
                if let Some(previous) = stack.pop() {
                    state = previous;
                    if let Some(boundary) = state.boundary.as_deref()
                        && seek_past(&mut stream, raw, boundary).is_some()
                    {
                        continue;
                    }
                }
                break 'outer;
            }
        } else if stream.offset() >= raw.len() {
            break;
        }
    }

    // Each list only takes parts of its own kind, so a part can be moved out instead of
    // copied; a part listed twice gets a copy of the first, found by the part's index.
    let mut pick = |ids: &[usize], html: bool| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut taken: Vec<Option<usize>> = vec![None; parts.len()];
        for &id in ids {
            if let Some(at) = taken.get(id).copied().flatten() {
                out.push(out[at].clone());
                continue;
            }
            if let Some(Part::Html(s) | Part::Text(s)) =
                parts.get_mut(id).filter(|p| matches!((p, html), (Part::Html(_), true) | (Part::Text(_), false)))
            {
                taken[id] = Some(out.len());
                out.push(std::mem::take(s));
            }
        }
        out
    };
    let html = pick(&html_body, true);
    let text = pick(&text_body, false);
    Some(Bodies { html, text })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    None,
    QuotedPrintable,
    Base64,
}

/// Where the next `--boundary` starts, at or after the stream's position (what mail-parser's
/// byte loop finds: the leftmost occurrence).
fn find_boundary(data: &[u8], from: usize, boundary: &[u8]) -> Option<usize> {
    let rest = data.get(from..)?;
    let mut needle = Vec::with_capacity(boundary.len() + 2);
    needle.extend_from_slice(b"--");
    needle.extend_from_slice(boundary);
    memchr::memmem::find(rest, &needle).map(|i| from + i)
}

/// Moves the stream (over `data`) just past the next `--boundary`; `None` (stream unmoved) when there is
/// none. Like `MessageStream::seek_next_part` and `seek_next_part_offset`.
fn seek_past(stream: &mut MessageStream<'_>, data: &[u8], boundary: &[u8]) -> Option<()> {
    if boundary.is_empty() {
        return None;
    }
    let from = stream.offset();
    let at = find_boundary(data, from, boundary)?;
    stream.skip_bytes(at + 2 + boundary.len() - from);
    Some(())
}

/// A part without transfer encoding: the bytes up to the line break before the next boundary,
/// like `MessageStream::mime_part`. `None` when the boundary never comes.
fn plain_part<'x>(stream: &mut MessageStream<'x>, data: &'x [u8], boundary: &[u8]) -> Option<&'x [u8]> {
    let start = stream.offset();
    if boundary.is_empty() {
        stream.skip_bytes(data.len() - start);
        return Some(&data[start..]);
    }
    let at = find_boundary(data, start, boundary)?;
    let end = body_end(data, start, at);
    stream.skip_bytes(at + 2 + boundary.len() - start);
    Some(&data[start..end])
}

/// Where a body ends when `--boundary` starts at `at`: before the line break that precedes it,
/// or at the dashes when the boundary is not at the start of a line.
fn body_end(data: &[u8], start: usize, at: usize) -> usize {
    // mail-parser's loop starts as if just after a line break.
    let before = if at > start { data[at - 1] } else { b'\n' };
    if before != b'\n' {
        return at;
    }
    if at == start {
        return start;
    }
    let newline = at - 1;
    if newline > start && data[newline - 1] == b'\r' { newline - 1 } else { newline }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Qp {
    Plain,
    Eq,
    Hex1(u8),
}

/// Decodes a quoted-printable part exactly as `MessageStream::decode_quoted_printable_mime`
/// does, quirks included; `None` on the input it rejects (`==`) or a missing boundary.
fn quoted_printable(stream: &mut MessageStream<'_>, data: &[u8], boundary: &[u8]) -> Option<Vec<u8>> {
    let start = stream.offset();
    let (stop, found) = if boundary.is_empty() {
        (data.len(), None)
    } else {
        let at = find_boundary(data, start, boundary)?;
        // The first dash is read as text before the boundary is recognised.
        (at + 1, Some(at))
    };
    let input = &data[start..stop];
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    let specials = Specials::new();
    let mut state = Qp::Plain;
    let mut ws = 0usize;
    let mut crlf: &[u8] = b"\n";
    let mut i = 0;
    while i < input.len() {
        if state == Qp::Plain {
            // A run of ordinary bytes: copied as is, trailing whitespace counted.
            let run_end = specials.find(&input[i..]).map_or(input.len(), |j| i + j);
            if run_end > i {
                let run = &input[i..run_end];
                out.extend_from_slice(run);
                let trailing = run.iter().rev().take_while(|b| b.is_ascii_whitespace()).count();
                ws = if trailing == run.len() { ws + trailing } else { trailing };
                i = run_end;
                if i >= input.len() {
                    break;
                }
            }
        }
        if state == Qp::Plain && input[i] == b'=' {
            // The two common escapes in one step, as the byte loop below would take them.
            match input.get(i + 1..i + 3) {
                Some(&[h, l]) if HEX_MAP[h as usize] != -1 && HEX_MAP[l as usize] != -1 => {
                    out.push(((HEX_MAP[h as usize] as u8) << 4) | HEX_MAP[l as usize] as u8);
                    ws = 0;
                    i += 3;
                    continue;
                }
                Some(b"\r\n") => {
                    crlf = b"\r\n";
                    ws = 0;
                    i += 3;
                    continue;
                }
                _ => {}
            }
        }
        let ch = input[i];
        i += 1;
        match ch {
            b'=' => {
                if state == Qp::Plain {
                    state = Qp::Eq;
                } else {
                    return None;
                }
            }
            b'\n' => {
                if state == Qp::Eq {
                    state = Qp::Plain;
                } else {
                    if ws > 0 {
                        out.truncate(out.len() - ws);
                    }
                    out.extend_from_slice(crlf);
                }
                ws = 0;
            }
            b'\r' => crlf = b"\r\n",
            _ => match state {
                Qp::Plain => {
                    // Only reached for bytes the run loop stops at, which are handled above.
                    ws = if ch.is_ascii_whitespace() { ws + 1 } else { 0 };
                    out.push(ch);
                }
                Qp::Eq => {
                    let hex = HEX_MAP[ch as usize];
                    if hex != -1 {
                        state = Qp::Hex1(hex as u8);
                    } else if !ch.is_ascii_whitespace() {
                        state = Qp::Plain;
                        out.push(b'=');
                        out.push(ch);
                        ws = 0;
                    }
                }
                Qp::Hex1(high) => {
                    let hex = HEX_MAP[ch as usize];
                    state = Qp::Plain;
                    if hex != -1 {
                        out.push((high << 4) | hex as u8);
                    } else {
                        out.push(b'=');
                        out.push(input[i - 2]);
                        out.push(ch);
                    }
                    ws = 0;
                }
            },
        }
    }
    match found {
        None => stream.skip_bytes(data.len() - start),
        Some(at) => {
            // The byte before the dashes, or nothing when the part is empty.
            let before = if at > start { data[at - 1] } else { 0 };
            let cut = if before == b'\n' { crlf.len() + 1 } else { 1 };
            // mail-parser's subtraction wraps (and truncates nothing) when the body is shorter.
            if out.len() >= cut {
                out.truncate(out.len() - cut);
            }
            stream.skip_bytes(at + 2 + boundary.len() - start);
        }
    }
    Some(out)
}

/// Finds the next `=`, CR or LF. HTML escapes every `=` and lines are 76 bytes, so the runs
/// between them are short, and `memchr3` spends as much on choosing a searcher at every call as
/// on searching: on x86-64, its SSE2 searcher (every x86-64 processor has SSE2) is called
/// directly.
struct Specials {
    #[cfg(target_arch = "x86_64")]
    sse2: Option<memchr::arch::x86_64::sse2::memchr::Three>,
}

impl Specials {
    fn new() -> Specials {
        Specials {
            #[cfg(target_arch = "x86_64")]
            sse2: memchr::arch::x86_64::sse2::memchr::Three::new(b'=', b'\n', b'\r'),
        }
    }

    fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(sse2) = &self.sse2 {
            return sse2.find(haystack);
        }
        memchr::memchr3(b'=', b'\n', b'\r', haystack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::full_parse_bodies;

    #[test]
    fn a_message_of_thousands_of_tiny_parts_is_read_only_up_to_the_cap() {
        let mut raw = String::from("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
        raw.push_str("--b\r\nContent-Type: text/plain\r\n\r\nYour code is 482913\r\n");
        for i in 0..(MAX_PARTS * 5) {
            raw.push_str(&format!("--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"));
        }
        raw.push_str("--b--\r\n");
        let bodies = bodies(raw.as_bytes()).expect("the walk reads the message");
        assert!(bodies.text.len() < MAX_PARTS, "at most the cap of parts is kept: {}", bodies.text.len());
        assert!(bodies.text[0].contains("482913"), "the first part, where the code is, is read");
        assert_eq!(crate::extract(raw.as_bytes()).code.as_deref(), Some("482913"));
    }

    fn messages(dir: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut out: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "json"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| std::fs::read(&p).ok().map(|raw| (p, raw)))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn same_bodies_as_mail_parser() {
        // The golden corpus is in the repository; the fuzz corpus exists only where a fuzz run
        // has left one, and is compared too when it is there.
        for (dir, required) in [("../../tests/corpus", 200), ("fuzz/corpus/extract", 0)] {
            let (mut checked, mut covered) = (0, 0);
            for (path, raw) in messages(dir) {
                checked += 1;
                if let Some(fast) = bodies(&raw) {
                    covered += 1;
                    assert_eq!(
                        fast,
                        full_parse_bodies(&raw),
                        "{} must decode as mail-parser decodes it",
                        path.display()
                    );
                }
            }
            eprintln!("{dir}: {covered} of {checked} messages on the fast path, all as mail-parser reads them");
            assert!(checked >= required, "{dir} must be there to compare against (found {checked} messages)");
        }
    }

    #[test]
    fn specials_are_found_as_memchr_finds_them() {
        let specials = Specials::new();
        let texts: [&[u8]; 4] = [b"", b"<p class=3D\"x\">=\r\nbody</p>\n", &[b'x'; 100], b"tail\r"];
        for text in texts {
            for start in 0..text.len() {
                assert_eq!(specials.find(&text[start..]), memchr::memchr3(b'=', b'\n', b'\r', &text[start..]));
            }
        }
    }

    #[test]
    fn quoted_printable_quirks() {
        for body in ["a=3Db=\r\nc  \r\nd=\r\n", "soft=\n\nhard \t\nend=", "bad=ZZ=4x=\t\r\nx", "=\r\n", "", "tail  "] {
            for boundary in ["", "b"] {
                let raw = if boundary.is_empty() {
                    format!("Content-Transfer-Encoding: quoted-printable\r\n\r\n{body}")
                } else {
                    format!(
                        "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\
                         Content-Transfer-Encoding: quoted-printable\r\n\r\n{body}\r\n--b--\r\n"
                    )
                };
                assert_eq!(bodies(raw.as_bytes()), Some(full_parse_bodies(raw.as_bytes())), "{raw:?}");
            }
        }
    }
}
