//! Messages per second on one thread: a typical 30–60 KB HTML verification mail (quoted-printable,
//! a large stylesheet, nested layout tables, a hidden preheader, footer links), and the whole
//! golden corpus. Prints figures; asserts nothing about time.
//!
//! Run: `cargo bench -p mailwatch-extract --bench throughput`. `BENCH_SECONDS=N` sets the time
//! per measurement; `BENCH_RUNS=N` runs exactly N passes instead, so that instruction counters
//! (`perf stat -e instructions`, callgrind) give a per-message figure that a loaded machine does
//! not blur; `BENCH_ONLY=quoted-printable|8bit|corpus` runs one measurement.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Quoted-printable, as template engines send HTML.
fn quoted_printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 11 / 10);
    for line in s.lines() {
        let mut width = 0;
        for b in line.bytes() {
            let piece = if b == b'=' || b >= 0x7f || (b < 0x20 && b != b'\t') {
                format!("={b:02X}")
            } else {
                (b as char).to_string()
            };
            if width + piece.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            width += piece.len();
            out.push_str(&piece);
        }
        out.push_str("\r\n");
    }
    out
}

/// A verification mail shaped like the big senders' templates, padded to about 45 KB of HTML.
fn typical_mail(quoted: bool) -> Vec<u8> {
    let mut css = String::from("<style type=\"text/css\">");
    for i in 0..120 {
        css.push_str(&format!(
            ".c{i}{{font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:20px;color:#51545e;padding:0 {i}px}}\
             @media only screen and (max-width:600px){{.m{i}{{width:100%!important;display:block!important}}}}"
        ));
    }
    css.push_str(".preheader{display:none!important;max-height:0;overflow:hidden}.code{font-size:32px;letter-spacing:6px;font-weight:bold}</style>");
    let mut body = String::new();
    body.push_str("<span class=\"preheader\">Your verification code is 480917. It expires in 10 minutes.</span>");
    body.push_str(
        "<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\"><tr><td align=\"center\">",
    );
    body.push_str("<a href=\"https://www.example.com/?utm_source=email&amp;utm_medium=logo\"><img src=\"https://cdn.example.com/logo.png\" width=\"120\" alt=\"Example\"></a>");
    for i in 0..40 {
        body.push_str(&format!(
            "<table class=\"c{i}\" width=\"600\" style=\"border-collapse:collapse;mso-table-lspace:0pt;mso-table-rspace:0pt\"><tr>\
             <td class=\"m{i}\" style=\"padding:8px 24px;font-size:15px;color:#333333;background-color:#ffffff\">\
             <p style=\"margin:0 0 12px\">Tip {i}: keep your account secure. We will never ask for your password by phone or e-mail. \
             Learn more about <a href=\"https://www.example.com/security/tips/{i}?utm_campaign=otp&amp;utm_content=tip\" style=\"color:#3869d4\">security tips</a>.</p>\
             </td></tr></table>"
        ));
        if i == 3 {
            body.push_str("<p>Hi there,</p><p>Use the verification code below to finish signing in to Example.</p>\
                <table align=\"center\"><tr><td class=\"code\" bgcolor=\"#f4f4f7\" style=\"padding:16px 32px\">480917</td></tr></table>\
                <p>This code expires in 10 minutes. If you didn't request it, you can ignore this e-mail.</p>");
        }
    }
    body.push_str("<p style=\"font-size:12px\">&copy; 2026 Example Inc. 548 Market St #12345, San Francisco, CA 94104</p>\
        <p><a href=\"https://www.example.com/unsubscribe?u=1234\">Unsubscribe</a> &middot; <a href=\"https://www.example.com/privacy\">Privacy</a></p>\
        </td></tr></table><img src=\"https://t.example.com/open/123.gif\" width=\"1\" height=\"1\">");
    let html = format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\">{css}</head><body>{body}</body></html>");
    let text = "Your verification code is 480917.\r\nIt expires in 10 minutes.\r\n";
    format!(
        "From: Example <no-reply@example.com>\r\nSubject: Your Example verification code\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: {}\r\n\r\n{}\r\n--b--\r\n",
        if quoted { "quoted-printable" } else { "8bit" },
        if quoted { quoted_printable(&html) } else { html }
    )
    .into_bytes()
}

/// How long each measurement runs.
#[derive(Clone, Copy)]
enum Budget {
    Time(Duration),
    Runs(usize),
}

/// Runs `extract` over `messages` for the budget; returns messages per second.
fn rate(messages: &[Vec<u8>], budget: Budget) -> (f64, usize) {
    // Warm up caches and the keyword automaton.
    for m in messages {
        black_box(mailwatch_extract::extract(black_box(m)));
    }
    let start = Instant::now();
    let mut count = 0usize;
    let mut runs = 0usize;
    while match budget {
        Budget::Time(t) => start.elapsed() < t,
        Budget::Runs(n) => runs < n,
    } {
        runs += 1;
        for m in messages {
            black_box(mailwatch_extract::extract(black_box(m)));
        }
        count += messages.len();
    }
    (count as f64 / start.elapsed().as_secs_f64(), count)
}

fn main() {
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    let budget = match env("BENCH_RUNS") {
        Some(n) => Budget::Runs(n as usize),
        None => Budget::Time(Duration::from_secs(env("BENCH_SECONDS").unwrap_or(3))),
    };
    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |label: &str| only.as_deref().is_none_or(|o| o == label);
    for (quoted, label) in [(true, "quoted-printable"), (false, "8bit")] {
        if !wanted(label) {
            continue;
        }
        let typical = typical_mail(quoted);
        let got = mailwatch_extract::extract(&typical);
        assert_eq!(got.code.as_deref(), Some("480917"), "the bench mail must be a real verification mail");
        let (per_sec, n) = rate(std::slice::from_ref(&typical), budget);
        println!(
            "typical HTML verification mail, {label:>16} ({:.1} KB raw): {:>7.0} messages/s on one thread ({n} runs, {:.1} MB/s)",
            typical.len() as f64 / 1024.0,
            per_sec,
            per_sec * typical.len() as f64 / 1e6
        );
    }
    if std::env::var_os("BENCH_TYPICAL_ONLY").is_some() || !wanted("corpus") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .filter_map(|p| std::fs::read(p).ok())
                .collect()
        })
        .unwrap_or_default();
    corpus.sort();
    if corpus.is_empty() {
        println!("corpus: not found at {}", dir.display());
        return;
    }
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let (per_sec, n) = rate(&corpus, budget);
    println!(
        "whole corpus ({} messages, {:.1} KB on average):    {:>9.0} messages/s on one thread ({n} runs)",
        corpus.len(),
        bytes as f64 / corpus.len() as f64 / 1024.0,
        per_sec
    );
}
