//! Real proxies on loopback: Debian's `microsocks` (SOCKS5, optional user name and password,
//! names resolved by the proxy), `tinyproxy` (HTTP CONNECT and plain HTTP forwarding,
//! optional Basic authentication) and `danted` (Dante's SOCKS5 server, without
//! authentication here; unlike microsocks it sets TCP_NODELAY, so its small writes are not
//! held back by Nagle's algorithm, which matters for timing). Each runs in the foreground on a free port, logs every
//! connection it makes, and can be stopped and started again on the same port.
//!
//! ```ignore
//! let socks = ProxyServer::socks5(Some(("u", "p"))).await;
//! // account proxy: socks.url() == "socks5h://u:p@127.0.0.1:PORT"
//! assert!(socks.connections_to(dovecot_port) >= 1, "{socks}");
//! socks.stop();          // the port now refuses
//! socks.start().await;   // same port again
//! ```

use std::fmt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{TempDir, free_ports};

/// Which proxy program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyServerKind {
    /// microsocks.
    Socks5,
    /// tinyproxy.
    Http,
    /// danted (SOCKS5, no authentication).
    Dante,
}

/// A running (or stopped) proxy.
pub struct ProxyServer {
    kind: ProxyServerKind,
    port: u16,
    auth: Option<(String, String)>,
    dir: TempDir,
    log: PathBuf,
    child: Option<Child>,
}

impl ProxyServer {
    /// Starts microsocks on a free loopback port.
    pub async fn socks5(auth: Option<(&str, &str)>) -> ProxyServer {
        Self::new(ProxyServerKind::Socks5, auth).await
    }

    /// Starts danted (Dante's SOCKS5 server, no authentication) on a free loopback port.
    pub async fn dante() -> ProxyServer {
        Self::new(ProxyServerKind::Dante, None).await
    }

    /// Starts tinyproxy on a free loopback port.
    pub async fn http(auth: Option<(&str, &str)>) -> ProxyServer {
        Self::new(ProxyServerKind::Http, auth).await
    }

    async fn new(kind: ProxyServerKind, auth: Option<(&str, &str)>) -> ProxyServer {
        let dir = TempDir::new(match kind {
            ProxyServerKind::Socks5 => "socks",
            ProxyServerKind::Http => "httpproxy",
            ProxyServerKind::Dante => "dante",
        });
        let log = dir.path().join("proxy.log");
        let mut p = ProxyServer {
            kind,
            port: free_ports(1)[0],
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            dir,
            log,
            child: None,
        };
        p.start().await;
        p
    }

    /// Starts the program again (after [`ProxyServer::stop`]) on the same port.
    ///
    /// # Panics
    /// The program is missing or does not listen within 5 s.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "the proxy is already running");
        let port = self.port.to_string();
        let mut cmd = match self.kind {
            ProxyServerKind::Socks5 => {
                let mut c = Command::new("microsocks");
                c.args(["-i", "127.0.0.1", "-p", &port]);
                if let Some((u, p)) = &self.auth {
                    c.args(["-u", u, "-P", p]);
                }
                let out = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("the log opens");
                c.stdout(out.try_clone().expect("a second handle")).stderr(out);
                c
            }
            ProxyServerKind::Http => {
                let conf = self.dir.path().join("tinyproxy.conf");
                let mut text = format!(
                    "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 200\nLogLevel Connect\nLogFile \"{}\"\nDisableViaHeader Yes\n",
                    self.log.display()
                );
                if let Some((u, p)) = &self.auth {
                    text.push_str(&format!("BasicAuth {u} {p}\n"));
                }
                std::fs::write(&conf, text).expect("the tinyproxy config is written");
                let mut c = Command::new("tinyproxy");
                c.arg("-d").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null());
                c
            }
            ProxyServerKind::Dante => {
                let conf = self.dir.path().join("danted.conf");
                let user = if unsafe { libc::geteuid() } == 0 {
                    "user.privileged: root\nuser.unprivileged: nobody\n"
                } else {
                    ""
                };
                let text = format!(
                    "logoutput: {}\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\nclientmethod: none\nsocksmethod: none\n{user}\
                     client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect }}\n\
                     socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect }}\n",
                    self.log.display()
                );
                std::fs::write(&conf, text).expect("the danted config is written");
                let mut c = Command::new(if std::path::Path::new("/usr/sbin/danted").exists() {
                    "/usr/sbin/danted"
                } else {
                    "danted"
                });
                c.arg("-f").arg(&conf).arg("-N").arg("1").arg("-p").arg(self.dir.path().join("danted.pid"));
                c.stdout(Stdio::null()).stderr(Stdio::null());
                c
            }
        };
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.stdin(Stdio::null()).spawn().unwrap_or_else(|e| {
            panic!("cannot start {:?} (install microsocks and tinyproxy: .ci/setup.sh --test): {e}", self.kind)
        });
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{:?} did not listen on {} within 5 s",
                self.kind,
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the program (SIGKILL, then waits for it): its port refuses connections after.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Dante forks workers: the whole group goes.
            // SAFETY: the child leads its own process group (process_group(0) at spawn).
            unsafe { libc::killpg(c.id() as libc::pid_t, libc::SIGKILL) };
            let _ = c.wait();
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL, with the user name and password when it has them.
    pub fn url(&self) -> String {
        let scheme = match self.kind {
            ProxyServerKind::Socks5 | ProxyServerKind::Dante => "socks5h",
            ProxyServerKind::Http => "http",
        };
        match &self.auth {
            Some((u, p)) => format!("{scheme}://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// The proxy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many connections the proxy opened (or requests it forwarded) to `port` on any
    /// host: microsocks logs `client[N] IP: connected to HOST:PORT`, tinyproxy
    /// `Request (file descriptor N): CONNECT HOST:PORT HTTP/1.1` or `POST http://HOST:PORT/...`.
    pub fn connections_to(&self, port: u16) -> usize {
        let needle = format!(":{port}");
        self.log()
            .lines()
            .filter(|l| match self.kind {
                ProxyServerKind::Socks5 => l.contains("connected to ") && l.trim_end().ends_with(&needle),
                // `pass(1): tcp/connect [: CLIENT PROXY -> LOCAL 127.0.0.1.PORT`
                ProxyServerKind::Dante => l.contains("tcp/connect") && l.trim_end().ends_with(&format!(".{port}")),
                ProxyServerKind::Http => {
                    l.contains("Request (") && (l.contains(&format!("{needle} ")) || l.contains(&format!("{needle}/")))
                }
            })
            .count()
    }
}

impl fmt::Display for ProxyServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = self.log();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        write!(f, "{:?} proxy on 127.0.0.1:{} (log {}):\n{}", self.kind, self.port, self.log.display(), tail.join("\n"))
    }
}

impl fmt::Debug for ProxyServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyServer({:?}, {})", self.kind, self.port)
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            self.dir.keep();
            eprintln!("\n==== test failed; {self}\n====");
        }
    }
}

/// An IP-echo page on loopback, like the public ones `proxy test` asks for the exit IP: every
/// GET is answered with the caller's address as plain text. Counts the requests.
pub struct IpEcho {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl IpEcho {
    /// Starts on a free loopback port.
    pub async fn start() -> IpEcho {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let port = listener.local_addr().expect("an address").port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut s, peer)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 64 * 1024 {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let body = peer.ip().to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(reply.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        IpEcho { port, hits, task }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for IpEcho {
    fn drop(&mut self) {
        self.task.abort();
    }
}
