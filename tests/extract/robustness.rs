//! Hostile and huge input: no panic, a bounded amount of work, and a sane result. The inputs
//! are generated here rather than committed.

use mailwatch_extract::extract;

fn headers(content_type: &str) -> String {
    format!(
        "From: Demo <noreply@demo.test>\r\nSubject: Your verification code\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n"
    )
}

#[test]
fn malformed_mime_yields_a_result() {
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\r\n\r\n".to_vec(),
        b"Subject: =?UTF-8?B?!!!invalid?=\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all".to_vec(),
        b"Content-Type: multipart/alternative; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nYour code is 123456\r\n--x".to_vec(),
        b"Content-Type: text/plain; charset=\"no-such-charset\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!".to_vec(),
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=4=\r\n=".to_vec(),
        b"From: <<<@@@>>>\r\nDate: yesterday-ish\r\nMessage-ID: \r\n\r\nhello".to_vec(),
        b"Content-Type: text/html\r\n\r\n<a href='https://x.test/verify?t=1'>Verify<div style=\"display:none".to_vec(),
        vec![0u8; 10_000],
        (0..=255u8).cycle().take(100_000).collect(),
    ];
    for raw in cases {
        let got = extract(&raw);
        assert!(got.confidence.is_finite() && (0.0..=1.0).contains(&got.confidence));
        assert!(got.snippet.chars().count() <= 200);
    }
}

#[test]
fn unterminated_multipart_still_finds_the_code() {
    let raw = b"Subject: Login\r\nContent-Type: multipart/alternative; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nYour verification code is 123456\r\n";
    assert_eq!(extract(raw).code.as_deref(), Some("123456"), "a missing closing boundary loses nothing");
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let mut raw = headers("text/plain; charset=utf-8").into_bytes();
    raw.extend_from_slice(b"Your verification code is 482913.\r\n\xff\xfe\xc3\x28 broken \xe2\x82 bytes\r\n");
    assert_eq!(extract(&raw).code.as_deref(), Some("482913"));
}

#[test]
fn fifty_level_nested_multipart() {
    let mut raw = headers("multipart/mixed; boundary=\"b0\"");
    for level in 1..50 {
        raw.push_str(&format!("--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n", level - 1));
    }
    raw.push_str("--b49\r\nContent-Type: text/plain\r\n\r\nYour verification code is 771203.\r\n--b49--\r\n");
    for level in (0..49).rev() {
        raw.push_str(&format!("--b{level}--\r\n"));
    }
    let got = extract(raw.as_bytes());
    // mail-parser may stop descending before the innermost part; either way: no panic, no wrong code.
    assert!(got.code.is_none() || got.code.as_deref() == Some("771203"));
}

#[test]
fn twenty_five_megabyte_message() {
    let mut raw = headers("multipart/mixed; boundary=\"big\"");
    raw.push_str("--big\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Your verification code:</p><p style=\"font-size:30px\">556677</p>\r\n");
    raw.push_str("--big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while raw.len() < 25 * 1024 * 1024 {
        raw.push_str(line);
    }
    raw.push_str("--big--\r\n");
    let got = extract(raw.as_bytes());
    assert_eq!(got.code.as_deref(), Some("556677"), "the attachment does not hide the body's code");
}

#[test]
fn one_megabyte_single_line_html() {
    let mut html = String::from("<html><body><p>Your verification code is <b>903411</b></p>");
    let filler = "<span style=\"color:#333\">lorem ipsum 2024 $19.99 &amp; dolor</span><td>7</td>";
    while html.len() < 1024 * 1024 {
        html.push_str(filler);
    }
    html.push_str("</body></html>");
    let mut raw = headers("text/html; charset=utf-8");
    raw.push_str(&html);
    assert_eq!(extract(raw.as_bytes()).code.as_deref(), Some("903411"));

    // Pathological markup on one line: unclosed tags, quotes and entities.
    for piece in ["<a <a <a ", "<div style=\"", "&#x;&#99999999;&", "<<<>>>", "<!--", "</x>"] {
        let mut raw = headers("text/html");
        raw.push_str(&piece.repeat(1024 * 1024 / piece.len()));
        let got = extract(raw.as_bytes());
        assert!(got.code.is_none(), "no code in {piece:?} repeated");
    }
}

#[test]
fn deep_html_nesting() {
    let mut raw = headers("text/html");
    raw.push_str(&"<div><span style=\"display:none\">".repeat(20_000));
    raw.push_str("Your code is 112233");
    let got = extract(raw.as_bytes());
    assert!(got.code.is_none(), "hidden text is not a visible code");
}

#[test]
fn binary_attachments() {
    let mut raw = headers("multipart/mixed; boundary=\"m\"");
    raw.push_str("--m\r\nContent-Type: text/plain\r\n\r\nYour login code: 650194\r\n");
    let mut bytes = raw.into_bytes();
    for (ctype, cte) in [("image/png", "binary"), ("application/zip", "8bit"), ("application/pdf", "base64")] {
        bytes.extend_from_slice(
            format!("--m\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").as_bytes(),
        );
        let mut x: u32 = 0x9E37_79B9;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            bytes.push((x & 0xff) as u8);
        }
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"--m--\r\n");
    assert_eq!(extract(&bytes).code.as_deref(), Some("650194"));
}
