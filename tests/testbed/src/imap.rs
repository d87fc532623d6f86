//! A tiny line-based IMAP client for checks inside tests (greeting, LOGIN, AUTHENTICATE
//! XOAUTH2, STARTTLS, SELECT, any command). It is not the product's client; it exists so
//! the test bed can prove its own servers work without depending on the engine.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;

/// Every read and write gives up after this long, so a stalled server cannot hang a test.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The tagged completion of a command and the untagged lines before it.
#[derive(Debug, Clone)]
pub struct Response {
    /// Untagged and continuation lines, literals inlined.
    pub lines: Vec<String>,
    /// The tagged status line without the tag, e.g. `OK [READ-WRITE] Select completed`.
    pub status: String,
}

impl Response {
    /// Whether the tagged status is `OK`.
    pub fn is_ok(&self) -> bool {
        self.status.starts_with("OK")
    }

    /// The number in `* N EXISTS`, if present.
    pub fn exists(&self) -> Option<u32> {
        self.lines.iter().find_map(|l| {
            let rest = l.strip_prefix("* ")?;
            let (n, word) = rest.split_once(' ')?;
            (word.trim() == "EXISTS").then(|| n.parse().ok()).flatten()
        })
    }
}

/// One IMAP connection.
pub struct ImapClient {
    stream: Option<BufReader<Box<dyn Io>>>,
    next_tag: u32,
    /// The server greeting line.
    pub greeting: String,
}

impl ImapClient {
    /// Connects with implicit TLS (server name `localhost`) and reads the greeting.
    ///
    /// # Errors
    /// Connect, TLS and read failures, or a timeout.
    pub async fn connect_tls(port: u16, config: Arc<ClientConfig>) -> io::Result<ImapClient> {
        let tcp = timeout(TcpStream::connect(("127.0.0.1", port))).await?;
        let tls = tls_wrap(Box::new(tcp), config).await?;
        Self::with_stream(tls).await
    }

    /// Connects without TLS and reads the greeting.
    ///
    /// # Errors
    /// Connect and read failures, or a timeout.
    pub async fn connect_plain(port: u16) -> io::Result<ImapClient> {
        let tcp = timeout(TcpStream::connect(("127.0.0.1", port))).await?;
        Self::with_stream(Box::new(tcp)).await
    }

    async fn with_stream(stream: Box<dyn Io>) -> io::Result<ImapClient> {
        let mut client = ImapClient { stream: Some(BufReader::new(stream)), next_tag: 1, greeting: String::new() };
        client.greeting = client.read_line().await?;
        Ok(client)
    }

    /// Issues STARTTLS and upgrades the connection.
    ///
    /// # Errors
    /// When the server refuses or the handshake fails.
    pub async fn starttls(&mut self, config: Arc<ClientConfig>) -> io::Result<Response> {
        let resp = self.command("STARTTLS").await?;
        if !resp.is_ok() {
            return Ok(resp);
        }
        let stream = self.stream.take().expect("stream present").into_inner();
        self.stream = Some(BufReader::new(tls_wrap(stream, config).await?));
        Ok(resp)
    }

    /// `LOGIN user password` (quoted).
    ///
    /// # Errors
    /// I/O failures; a `NO` is returned as a response.
    pub async fn login(&mut self, user: &str, password: &str) -> io::Result<Response> {
        self.command(&format!("LOGIN {} {}", quote(user), quote(password))).await
    }

    /// `AUTHENTICATE XOAUTH2` with an initial response; on failure answers Dovecot's JSON
    /// challenge with an empty line, as RFC 7628 clients do.
    ///
    /// # Errors
    /// I/O failures; a `NO` is returned as a response.
    pub async fn authenticate_xoauth2(&mut self, user: &str, access_token: &str) -> io::Result<Response> {
        let ir = format!("user={user}\x01auth=Bearer {access_token}\x01\x01");
        let b64 = base64::engine::general_purpose::STANDARD.encode(ir);
        self.sasl(&format!("AUTHENTICATE XOAUTH2 {b64}")).await
    }

    /// `AUTHENTICATE OAUTHBEARER` (RFC 7628) with an initial response.
    ///
    /// # Errors
    /// I/O failures; a `NO` is returned as a response.
    pub async fn authenticate_oauthbearer(&mut self, user: &str, access_token: &str) -> io::Result<Response> {
        let ir = format!("n,a={user},\x01auth=Bearer {access_token}\x01\x01");
        let b64 = base64::engine::general_purpose::STANDARD.encode(ir);
        self.sasl(&format!("AUTHENTICATE OAUTHBEARER {b64}")).await
    }

    async fn sasl(&mut self, command: &str) -> io::Result<Response> {
        let tag = self.send(command).await?;
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await?;
            if line.starts_with('+') {
                lines.push(line);
                self.write_raw(b"\r\n").await?;
            } else if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                return Ok(Response { lines, status: status.to_string() });
            } else {
                lines.push(line);
            }
        }
    }

    /// Sends one command (without tag) and reads up to its tagged completion.
    ///
    /// # Errors
    /// I/O failures or a timeout.
    pub async fn command(&mut self, command: &str) -> io::Result<Response> {
        let tag = self.send(command).await?;
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await?;
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                return Ok(Response { lines, status: status.to_string() });
            }
            lines.push(line);
        }
    }

    /// `SELECT folder`.
    ///
    /// # Errors
    /// I/O failures.
    pub async fn select(&mut self, folder: &str) -> io::Result<Response> {
        self.command(&format!("SELECT {}", quote(folder))).await
    }

    /// `LOGOUT`, ignoring errors.
    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT").await;
    }

    async fn send(&mut self, command: &str) -> io::Result<String> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        self.write_raw(format!("{tag} {command}\r\n").as_bytes()).await?;
        Ok(tag)
    }

    async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.stream.as_mut().expect("stream present").get_mut();
        timeout(async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await
    }

    /// Reads one response line, with any `{n}` literals inlined.
    async fn read_line(&mut self) -> io::Result<String> {
        let stream = self.stream.as_mut().expect("stream present");
        timeout(async {
            let mut out = String::new();
            loop {
                let mut buf = Vec::new();
                if stream.read_until(b'\n', &mut buf).await? == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
                }
                let line = String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string();
                let literal = line
                    .strip_suffix('}')
                    .and_then(|l| l.rsplit_once('{'))
                    .and_then(|(_, n)| n.trim_end_matches('+').parse::<usize>().ok());
                out.push_str(&line);
                match literal {
                    Some(n) => {
                        let mut lit = vec![0; n];
                        stream.read_exact(&mut lit).await?;
                        out.push_str("\r\n");
                        out.push_str(&String::from_utf8_lossy(&lit));
                    }
                    None => return Ok(out),
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
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "IMAP test client timed out"))?
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
