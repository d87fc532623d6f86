//! A minimal HTTP/1.1 server: enough for Dovecot's introspection client, `reqwest` and
//! `curl` (keep-alive, Content-Length and chunked request bodies, `Expect: 100-continue`),
//! over plain TCP or TLS.

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// One parsed request.
pub(crate) struct Request {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the handler wants sent back.
pub(crate) enum Reply {
    Json {
        status: u16,
        body: String,
    },
    /// Any body, with its content type and extra headers (`Retry-After`, say).
    Raw {
        status: u16,
        content_type: &'static str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Close the connection without answering.
    Hangup,
}

const MAX_BODY: usize = 1 << 20;

/// Serves `handler` on `listener` until the returned task is aborted.
pub(crate) fn serve<H, F>(listener: TcpListener, handler: Arc<H>) -> JoinHandle<()>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    serve_with(listener, None, handler)
}

/// Serves `handler` over TLS on `listener` until the returned task is aborted.
pub(crate) fn serve_tls<H, F>(listener: TcpListener, acceptor: TlsAcceptor, handler: Arc<H>) -> JoinHandle<()>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    serve_with(listener, Some(acceptor), handler)
}

fn serve_with<H, F>(listener: TcpListener, tls: Option<TlsAcceptor>, handler: Arc<H>) -> JoinHandle<()>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let handler = handler.clone();
                    let tls = tls.clone();
                    conns.spawn(async move {
                        match tls {
                            None => { let _ = serve_conn(stream, handler).await; }
                            Some(acceptor) => {
                                if let Ok(stream) = acceptor.accept(stream).await {
                                    let _ = serve_conn(stream, handler).await;
                                }
                            }
                        }
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    })
}

async fn serve_conn<S, H, F>(stream: S, handler: Arc<H>) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Fn(Request) -> F,
    F: Future<Output = Reply>,
{
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("/").to_string();
        let version = parts.next().unwrap_or("HTTP/1.1").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_ascii_lowercase())
        };
        if header("expect").is_some_and(|v| v == "100-continue") {
            reader.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            read_chunked(&mut reader).await?
        } else {
            let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            if len > MAX_BODY {
                return Ok(());
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).await?;
            body
        };
        let close = header("connection").is_some_and(|v| v.contains("close"))
            || (version == "HTTP/1.0" && !header("connection").is_some_and(|v| v.contains("keep-alive")));
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        let request = Request { method, path, query, headers, body };
        match handler(request).await {
            Reply::Hangup => return Ok(()),
            Reply::Json { status, body } => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\n\
                     Content-Length: {}\r\nCache-Control: no-store, no-cache\r\nPragma: no-cache\r\n\
                     Connection: {}\r\n\r\n",
                    reason(status),
                    body.len(),
                    if close { "close" } else { "keep-alive" }
                );
                let stream = reader.get_mut();
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(body.as_bytes()).await?;
                stream.flush().await?;
            }
            Reply::Raw { status, content_type, headers, body } => {
                let mut head = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                     Connection: {}\r\n",
                    reason(status),
                    body.len(),
                    if close { "close" } else { "keep-alive" }
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let stream = reader.get_mut();
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body).await?;
                stream.flush().await?;
            }
        }
        if close {
            return Ok(());
        }
    }
}

async fn read_chunked<S: AsyncRead + Unpin>(reader: &mut BufReader<S>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).await?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t).await? == 0 || t.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).await?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
