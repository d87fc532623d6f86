//! A tiny SMTP/LMTP client for checks inside tests (greeting, EHLO/LHLO, STARTTLS, AUTH PLAIN,
//! AUTH XOAUTH2, one message). Like [`imap`](crate::imap), it is not the product's client (the
//! product sends with lettre); it exists so the test bed can prove [`Postfix`](crate::Postfix)
//! and Dovecot's LMTP work, and so tests can speak raw SMTP where a library would hide a step.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;

/// Every read and write gives up after this long, so a stalled server cannot hang a test.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One SMTP reply: its code and the text of each line (code and separator removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, e.g. 250, 334, 535.
    pub code: u16,
    /// The text of every line, e.g. `["localhost", "PIPELINING", "AUTH PLAIN LOGIN XOAUTH2"]`.
    pub lines: Vec<String>,
}

impl Reply {
    /// Whether the code is 2xx.
    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// All lines joined with newlines, for messages and `contains` checks.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// Whether an EHLO reply lists `keyword` (e.g. `PIPELINING`), or, with `AUTH`, whether
    /// `mechanism` is among the listed mechanisms: `has_extension("AUTH XOAUTH2")`.
    pub fn has_extension(&self, keyword: &str) -> bool {
        let mut want = keyword.split_whitespace();
        let (Some(name), mech) = (want.next(), want.next()) else {
            return false;
        };
        self.lines.iter().skip(1).any(|l| {
            let mut words = l.split_whitespace();
            words.next().is_some_and(|w| w.eq_ignore_ascii_case(name))
                && mech.is_none_or(|m| words.any(|w| w.eq_ignore_ascii_case(m)))
        })
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// One SMTP (or LMTP) connection.
pub struct SmtpClient {
    stream: Option<BufReader<Box<dyn Io>>>,
    /// Set by LHLO: LMTP answers the end of DATA once per accepted recipient.
    lmtp: bool,
    /// The server greeting.
    pub greeting: Reply,
}

impl SmtpClient {
    /// Connects without TLS (submission with STARTTLS, or LMTP) and reads the greeting.
    ///
    /// # Errors
    /// Connect and read failures, or a timeout.
    pub async fn connect_plain(port: u16) -> io::Result<SmtpClient> {
        let tcp = timeout(TcpStream::connect(("127.0.0.1", port))).await?;
        Self::with_stream(Box::new(tcp)).await
    }

    /// Connects with implicit TLS (submissions, server name `localhost`) and reads the
    /// greeting.
    ///
    /// # Errors
    /// Connect, TLS and read failures, or a timeout.
    pub async fn connect_tls(port: u16, config: Arc<ClientConfig>) -> io::Result<SmtpClient> {
        let tcp = timeout(TcpStream::connect(("127.0.0.1", port))).await?;
        let tls = tls_wrap(Box::new(tcp), config).await?;
        Self::with_stream(tls).await
    }

    async fn with_stream(stream: Box<dyn Io>) -> io::Result<SmtpClient> {
        let mut client = SmtpClient {
            stream: Some(BufReader::new(stream)),
            lmtp: false,
            greeting: Reply { code: 0, lines: Vec::new() },
        };
        client.greeting = client.read_reply().await?;
        Ok(client)
    }

    /// `EHLO name`; the reply lists the extensions.
    ///
    /// # Errors
    /// I/O failures; a refusal is returned as a reply.
    pub async fn ehlo(&mut self, name: &str) -> io::Result<Reply> {
        self.command(&format!("EHLO {name}")).await
    }

    /// `LHLO name`, LMTP's EHLO; [`SmtpClient::send_mail`] then reads one final reply per
    /// accepted recipient.
    ///
    /// # Errors
    /// I/O failures.
    pub async fn lhlo(&mut self, name: &str) -> io::Result<Reply> {
        self.lmtp = true;
        self.command(&format!("LHLO {name}")).await
    }

    /// Issues STARTTLS and, on 220, upgrades the connection (EHLO again afterwards).
    ///
    /// # Errors
    /// When the handshake fails; a refusal is returned as a reply.
    pub async fn starttls(&mut self, config: Arc<ClientConfig>) -> io::Result<Reply> {
        let reply = self.command("STARTTLS").await?;
        if reply.code != 220 {
            return Ok(reply);
        }
        let stream = self.stream.take().expect("stream present").into_inner();
        self.stream = Some(BufReader::new(tls_wrap(stream, config).await?));
        Ok(reply)
    }

    /// `AUTH PLAIN` with an initial response.
    ///
    /// # Errors
    /// I/O failures; a 535 is returned as a reply.
    pub async fn auth_plain(&mut self, user: &str, password: &str) -> io::Result<Reply> {
        let ir = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.sasl(&format!("AUTH PLAIN {ir}")).await
    }

    /// `AUTH XOAUTH2` with an initial response. When the token is refused, Dovecot (through
    /// Postfix) first sends a `334` with a base64 JSON error; this answers it with an empty
    /// line, as clients must, and returns the final reply (535). Every challenge seen is in
    /// the returned reply's lines, prefixed with `334 `.
    ///
    /// # Errors
    /// I/O failures; a 535 is returned as a reply.
    pub async fn auth_xoauth2(&mut self, user: &str, access_token: &str) -> io::Result<Reply> {
        let ir = format!("user={user}\x01auth=Bearer {access_token}\x01\x01");
        let b64 = base64::engine::general_purpose::STANDARD.encode(ir);
        self.sasl(&format!("AUTH XOAUTH2 {b64}")).await
    }

    async fn sasl(&mut self, command: &str) -> io::Result<Reply> {
        let mut reply = self.command(command).await?;
        let mut challenges = Vec::new();
        // A well-behaved server sends at most one error challenge; do not loop forever.
        while reply.code == 334 && challenges.len() < 3 {
            challenges.extend(reply.lines.iter().map(|l| format!("334 {l}")));
            reply = self.command("").await?;
        }
        challenges.append(&mut reply.lines);
        Ok(Reply { code: reply.code, lines: challenges })
    }

    /// Sends one message: `MAIL FROM`, one `RCPT TO` per recipient, and `DATA` with `raw`
    /// (dot-stuffed here) when at least one recipient was accepted. Returns every reply in
    /// order (MAIL, each RCPT, then DATA's 354 and final reply if DATA was sent); for LMTP
    /// the final part has one reply per accepted recipient.
    ///
    /// # Errors
    /// I/O failures.
    pub async fn send_mail(&mut self, from: &str, to: &[&str], raw: &[u8]) -> io::Result<Vec<Reply>> {
        let mut replies = vec![self.command(&format!("MAIL FROM:<{from}>")).await?];
        if !replies[0].is_ok() {
            return Ok(replies);
        }
        let mut accepted = 0;
        for rcpt in to {
            let r = self.command(&format!("RCPT TO:<{rcpt}>")).await?;
            accepted += usize::from(r.is_ok());
            replies.push(r);
        }
        if accepted == 0 {
            return Ok(replies);
        }
        let go = self.command("DATA").await?;
        let proceed = go.code == 354;
        replies.push(go);
        if !proceed {
            return Ok(replies);
        }
        let mut body = Vec::with_capacity(raw.len() + 8);
        for line in raw.split_inclusive(|b| *b == b'\n') {
            if line.starts_with(b".") {
                body.push(b'.');
            }
            body.extend_from_slice(line);
        }
        if !body.ends_with(b"\r\n") {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b".\r\n");
        self.write_raw(&body).await?;
        // SMTP answers once; LMTP once per accepted recipient.
        let finals = if self.lmtp { accepted } else { 1 };
        for _ in 0..finals {
            replies.push(self.read_reply().await?);
        }
        Ok(replies)
    }

    /// Sends one command line (without CRLF) and reads its reply.
    ///
    /// # Errors
    /// I/O failures or a timeout.
    pub async fn command(&mut self, line: &str) -> io::Result<Reply> {
        self.write_raw(format!("{line}\r\n").as_bytes()).await?;
        self.read_reply().await
    }

    /// `QUIT`, ignoring errors.
    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }

    async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.stream.as_mut().expect("stream present").get_mut();
        timeout(async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await
    }

    /// Reads one (possibly multi-line) reply.
    async fn read_reply(&mut self) -> io::Result<Reply> {
        let stream = self.stream.as_mut().expect("stream present");
        timeout(async {
            let mut lines = Vec::new();
            loop {
                let mut buf = Vec::new();
                if stream.read_until(b'\n', &mut buf).await? == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
                }
                let line = String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string();
                let code = line.get(..3).and_then(|c| c.parse::<u16>().ok()).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("not an SMTP reply line: {line:?}"))
                })?;
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line.get(4..).unwrap_or("").to_string());
                if last {
                    return Ok(Reply { code, lines });
                }
            }
        })
        .await
    }
}

async fn tls_wrap(stream: Box<dyn Io>, config: Arc<ClientConfig>) -> io::Result<Box<dyn Io>> {
    let name = ServerName::try_from("localhost").expect("valid name");
    let tls = timeout(TlsConnector::from(config).connect(name, stream)).await?;
    Ok(Box::new(tls))
}

async fn timeout<T>(f: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, f)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "SMTP test client timed out"))?
}

#[cfg(test)]
mod tests {
    use super::Reply;

    #[test]
    fn extensions_and_auth_mechanisms_are_found() {
        let r = Reply {
            code: 250,
            lines: vec!["localhost".into(), "PIPELINING".into(), "AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER".into()],
        };
        assert!(r.has_extension("PIPELINING"));
        assert!(r.has_extension("AUTH XOAUTH2"));
        assert!(!r.has_extension("AUTH CRAM-MD5"));
        assert!(!r.has_extension("STARTTLS"));
    }
}
