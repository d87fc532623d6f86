//! A fault-injecting TCP proxy for loopback tests: put it between a client and Dovecot (or
//! any server) and change its behaviour while the test runs.
//!
//! - latency per direction: each chunk is forwarded `latency` after it arrived (chunks do
//!   not queue behind each other's delays, so throughput is kept, as on a long link);
//! - `drop_after(n)`: a connection is closed (FIN both ways) once `n` bytes, counted over
//!   both directions since it opened, have been forwarded; the last chunk is cut to fit;
//! - `reset_all()`: every open connection is reset (SO_LINGER 0, then close: both peers see
//!   a RST);
//! - `set_stall(true)`: nothing is forwarded, sockets stay open (and new connections are
//!   accepted); `set_stall(false)` delivers what was held;
//! - `set_refuse(true)`: new connections are reset at once, like a closed port with a
//!   firewall that answers.
//!
//! Settings apply to open connections too. Dropping the proxy closes everything.

use std::net::SocketAddr;
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, Default)]
struct Control {
    client_to_server: Duration,
    server_to_client: Duration,
    drop_after: Option<u64>,
    stall: bool,
    refuse: bool,
    /// Incremented by `reset_all`; connections opened before the change reset themselves.
    reset_epoch: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicUsize,
    active: AtomicUsize,
    client_to_server: AtomicU64,
    server_to_client: AtomicU64,
}

/// The proxy. Listens on a free loopback port; forwards to `upstream`.
pub struct FaultProxy {
    port: u16,
    upstream: SocketAddr,
    control: watch::Sender<Control>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Direction {
    ClientToServer,
    ServerToClient,
}

/// How one direction of a connection ended.
#[derive(Debug)]
enum Outcome {
    /// The source closed; the close was passed on.
    Eof,
    /// The `drop_after` budget was used up.
    Dropped,
    /// The source or destination failed (e.g. a peer reset).
    Failed,
    /// The proxy was dropped.
    Shutdown,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind fault proxy");
        let port = listener.local_addr().unwrap().port();
        let (control, rx) = watch::channel(Control::default());
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(accept_loop(listener, upstream, rx, counters.clone()));
        FaultProxy { port, upstream, control, counters, task }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// The address connections are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Delay added to each chunk, per direction (a round trip gains the sum).
    pub fn set_latency(&self, client_to_server: Duration, server_to_client: Duration) {
        self.control.send_modify(|c| {
            c.client_to_server = client_to_server;
            c.server_to_client = server_to_client;
        });
    }

    /// Close each connection after this many bytes (both directions together); `None` turns
    /// it off.
    pub fn drop_after(&self, bytes: Option<u64>) {
        self.control.send_modify(|c| c.drop_after = bytes);
    }

    /// Resets every open connection (both sides get a TCP RST). New connections are fine.
    pub fn reset_all(&self) {
        self.control.send_modify(|c| c.reset_epoch += 1);
    }

    /// Stops (`true`) or resumes (`false`) forwarding on all connections; sockets stay open.
    pub fn set_stall(&self, on: bool) {
        self.control.send_modify(|c| c.stall = on);
    }

    /// Resets new connections at once (`true`) instead of forwarding them.
    pub fn set_refuse(&self, on: bool) {
        self.control.send_modify(|c| c.refuse = on);
    }

    /// Connections accepted so far (including refused ones).
    pub fn connections(&self) -> usize {
        self.counters.accepted.load(Ordering::SeqCst)
    }

    /// Connections open right now.
    pub fn active_connections(&self) -> usize {
        self.counters.active.load(Ordering::SeqCst)
    }

    /// Bytes forwarded so far: (client to server, server to client).
    pub fn bytes_forwarded(&self) -> (u64, u64) {
        (self.counters.client_to_server.load(Ordering::SeqCst), self.counters.server_to_client.load(Ordering::SeqCst))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Dropping `control` tells every connection task to close.
        self.task.abort();
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .field("upstream", &self.upstream)
            .field("control", &*self.control.borrow())
            .finish()
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    rx: watch::Receiver<Control>,
    counters: Arc<Counters>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // EMFILE and the like: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        counters.accepted.fetch_add(1, Ordering::SeqCst);
        let rx = rx.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            counters.active.fetch_add(1, Ordering::SeqCst);
            run_connection(client, upstream, rx, &counters).await;
            counters.active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn run_connection(
    client: TcpStream,
    upstream: SocketAddr,
    mut rx: watch::Receiver<Control>,
    counters: &Arc<Counters>,
) {
    let control = *rx.borrow_and_update();
    let epoch = control.reset_epoch;
    if control.refuse {
        reset(&client);
        return;
    }
    let server = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(_) => {
            reset(&client);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // Duplicates of the descriptors let us set SO_LINGER after the streams moved into the
    // pump tasks. The sockets close (FIN or RST) when the last descriptor goes.
    let (Ok(client_fd), Ok(server_fd)) = (client.as_fd().try_clone_to_owned(), server.as_fd().try_clone_to_owned())
    else {
        reset(&client);
        return;
    };
    // tokio::io::split, unlike into_split, does not shut the socket down when a half drops,
    // so a reset sends only a RST, never a FIN first.
    let (client_r, client_w) = tokio::io::split(client);
    let (server_r, server_w) = tokio::io::split(server);
    let forwarded = Arc::new(AtomicU64::new(0));
    let mut pumps = JoinSet::new();
    pumps.spawn(pump(client_r, server_w, Direction::ClientToServer, rx.clone(), forwarded.clone(), counters.clone()));
    pumps.spawn(pump(server_r, client_w, Direction::ServerToClient, rx.clone(), forwarded, counters.clone()));
    let mut finished = 0;
    loop {
        tokio::select! {
            done = pumps.join_next() => match done {
                None => break,
                Some(Ok(Outcome::Eof)) => {
                    finished += 1;
                    if finished == 2 {
                        break;
                    }
                }
                Some(Ok(Outcome::Dropped | Outcome::Shutdown)) => break,
                Some(Ok(Outcome::Failed)) | Some(Err(_)) => {
                    // Pass a failure on as a reset, as a router would.
                    set_linger_zero(&client_fd);
                    set_linger_zero(&server_fd);
                    break;
                }
            },
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
                if rx.borrow_and_update().reset_epoch != epoch {
                    set_linger_zero(&client_fd);
                    set_linger_zero(&server_fd);
                    break;
                }
            }
        }
    }
    // Drop the halves (inside the tasks) before our duplicates, then the sockets close.
    pumps.shutdown().await;
    drop(client_fd);
    drop(server_fd);
}

type Chunk = (Instant, Vec<u8>);

async fn pump(
    mut src: ReadHalf<TcpStream>,
    mut dst: WriteHalf<TcpStream>,
    direction: Direction,
    mut rx: watch::Receiver<Control>,
    forwarded: Arc<AtomicU64>,
    counters: Arc<Counters>,
) -> Outcome {
    // The reader keeps reading while the writer waits out the latency, so delays overlap
    // like on a real link. A bounded queue gives back-pressure (and holds data during stalls).
    let (tx, mut queue) = mpsc::channel::<Option<Chunk>>(64);
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match src.read(&mut buf).await {
                Ok(0) => {
                    let _ = tx.send(None).await;
                    return;
                }
                Ok(n) => {
                    if tx.send(Some((Instant::now(), buf[..n].to_vec()))).await.is_err() {
                        return;
                    }
                }
                // Dropping `tx` without sending None tells the writer the source failed.
                Err(_) => return,
            }
        }
    };
    let writer = async move {
        loop {
            let Some(item) = queue.recv().await else {
                return Outcome::Failed;
            };
            let Some((arrived, data)) = item else {
                let _ = dst.shutdown().await;
                return Outcome::Eof;
            };
            let latency = {
                let c = rx.borrow();
                match direction {
                    Direction::ClientToServer => c.client_to_server,
                    Direction::ServerToClient => c.server_to_client,
                }
            };
            tokio::time::sleep_until(arrived + latency).await;
            loop {
                let stalled = rx.borrow().stall;
                if !stalled {
                    break;
                }
                if rx.changed().await.is_err() {
                    return Outcome::Shutdown;
                }
            }
            let mut data = &data[..];
            let mut cut = false;
            if let Some(limit) = rx.borrow().drop_after {
                let before = forwarded.fetch_add(data.len() as u64, Ordering::SeqCst);
                let allowed = limit.saturating_sub(before);
                if (data.len() as u64) >= allowed {
                    data = &data[..allowed as usize];
                    cut = true;
                }
            } else {
                forwarded.fetch_add(data.len() as u64, Ordering::SeqCst);
            }
            if !data.is_empty() {
                if dst.write_all(data).await.is_err() {
                    return Outcome::Failed;
                }
                let counter = match direction {
                    Direction::ClientToServer => &counters.client_to_server,
                    Direction::ServerToClient => &counters.server_to_client,
                };
                counter.fetch_add(data.len() as u64, Ordering::SeqCst);
            }
            if cut {
                let _ = dst.flush().await;
                return Outcome::Dropped;
            }
        }
    };
    tokio::pin!(reader, writer);
    let mut reader_done = false;
    loop {
        tokio::select! {
            () = &mut reader, if !reader_done => reader_done = true,
            outcome = &mut writer => return outcome,
        }
    }
}

fn reset(stream: &TcpStream) {
    if let Ok(fd) = stream.as_fd().try_clone_to_owned() {
        set_linger_zero(&fd);
    }
}

/// SO_LINGER with a zero timeout: the final close sends a RST instead of a FIN.
fn set_linger_zero(fd: &OwnedFd) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
