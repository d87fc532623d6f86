//! Postfix (the Debian package) on loopback as the submission server, configured and started
//! for one test run in front of a [`Dovecot`].
//!
//! Each [`Postfix`] owns a temp dir with its own `config_directory` (`etc/`), queue, data
//! directory and log. It listens on two free loopback ports: submission with STARTTLS (TLS
//! required before AUTH and MAIL) and submissions with implicit TLS, both with the Dovecot
//! run's certificate. SMTP AUTH goes to Dovecot's auth service (`smtpd_sasl_type = dovecot`),
//! so passwords and XOAUTH2/OAUTHBEARER tokens are checked exactly as IMAP logins are. Only
//! authenticated clients may send, to any domain; every message goes to Dovecot over LMTP, so
//! it lands in the recipient's INBOX some tens of milliseconds after the client saw `250`.
//!
//! Postfix logs through its `postlogd` into `postfix.log` in the temp dir. The counters
//! (`connections`, `auths`, ...) read that log without waiting. Postfix writes some lines
//! (notably `disconnect from`) a moment after the client saw the reply it waited for, so check
//! counts after [`Postfix::wait_closed`] or poll with [`Postfix::wait_for`].
//!
//! Postfix's master must run as root (it switches its services to the `postfix` user); start
//! panics with a clear message otherwise.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;

use crate::dovecot::{Dovecot, lookup_user};
use crate::tls;
use crate::util::{self, TempDir};

/// How long a start may take before it is declared failed. Normal starts take about 100 ms.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings for one Postfix instance. `Default` gives a server fit for most tests.
#[derive(Clone, Debug, Default)]
pub struct PostfixOptions {
    /// Recipients refused at `RCPT TO` with
    /// `550 5.1.1 <addr>: Recipient address rejected: User unknown`.
    pub rejected_recipients: Vec<String>,
    /// Recipients refused at `RCPT TO` with a temporary failure:
    /// `450 4.2.0 <addr>: Recipient address rejected: Mailbox busy, try again later`.
    pub deferred_recipients: Vec<String>,
    /// Lines appended verbatim to the generated `main.cf`; a parameter set here replaces the
    /// test bed's value for it.
    pub extra_main_cf: String,
}

/// A running Postfix, stopped (and its temp dir removed) on drop.
pub struct Postfix {
    dir: TempDir,
    etc: PathBuf,
    queue: PathBuf,
    log_path: PathBuf,
    stderr_path: PathBuf,
    ca_pem_path: PathBuf,
    client_config: Arc<ClientConfig>,
    submission_port: u16,
    submissions_port: u16,
    lmtp: std::net::SocketAddr,
    auth: std::net::SocketAddr,
    opts: PostfixOptions,
    /// Byte offset in the log where this run's traffic starts: the readiness probe's own
    /// connection is before it, so the counters do not see it.
    log_start: Mutex<u64>,
    child: Mutex<Option<Child>>,
}

impl Postfix {
    /// Generates a config in a fresh temp dir that authenticates against and delivers to
    /// `dovecot`, and starts Postfix on two free loopback ports. `dovecot` must outlive the
    /// returned handle (without it, logins fail and mail waits in the queue).
    ///
    /// # Panics
    /// When Postfix is not installed, this process is not root, or the submission port does
    /// not greet within 15 s; the message carries the log path and its last lines.
    pub async fn start(dovecot: &Dovecot, opts: PostfixOptions) -> Postfix {
        assert!(
            Path::new(&postfix_binary()).exists(),
            "Postfix is not installed: apt-get install -y --no-install-recommends postfix \
             (preseed `postfix postfix/main_mailer_type select No configuration` so it sets up no system MTA)"
        );
        // SAFETY: geteuid has no preconditions.
        assert!(
            unsafe { libc::geteuid() } == 0,
            "the Postfix test bed must run as root: Postfix's master starts its services as the `postfix` user"
        );
        let dir = TempDir::new("postfix");
        let root = dir.path().to_path_buf();
        let etc = root.join("etc");
        let queue = root.join("queue");
        fs::create_dir_all(&etc).expect("create etc dir");
        make_queue_and_data_dirs(&root);
        let ca = dovecot.run_ca();
        let ca_pem_path = root.join("ca.pem");
        fs::write(&ca_pem_path, &ca.ca_pem).expect("write ca.pem");
        fs::write(root.join("server.pem"), &ca.server_cert_pem).expect("write server.pem");
        fs::write(root.join("server.key"), &ca.server_key_pem).expect("write server.key");
        util::set_mode(&root.join("server.key"), 0o600);
        write_recipient_access(&root.join("recipient_access"), &opts);
        let mut postfix = Postfix {
            etc,
            queue,
            log_path: root.join("postfix.log"),
            stderr_path: root.join("postfix.stderr"),
            ca_pem_path,
            client_config: tls::client_config(&ca.ca_der),
            submission_port: 0,
            submissions_port: 0,
            lmtp: dovecot.lmtp_addr(),
            auth: dovecot.auth_addr(),
            opts,
            log_start: Mutex::new(0),
            child: Mutex::new(None),
            dir,
        };
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let ports = util::free_ports(2);
            postfix.submission_port = ports[0];
            postfix.submissions_port = ports[1];
            postfix.write_config();
            match postfix.launch().await {
                Ok(()) => return postfix,
                Err(e) => {
                    postfix.kill();
                    // Another process may have taken a port between probe and bind: retry.
                    if postfix.log_tail(40).contains("Address already in use") {
                        last_error = e;
                        continue;
                    }
                    postfix.dir.keep();
                    panic!("cannot start Postfix: {e}{}\n{}", postfix.early_complaints(), postfix.diagnostics());
                }
            }
        }
        postfix.dir.keep();
        panic!("cannot start Postfix after 3 attempts: {last_error}\n{}", postfix.diagnostics());
    }

    /// Port of the submission listener: plain SMTP that requires STARTTLS before AUTH and
    /// MAIL (`smtpd_tls_security_level = encrypt`).
    pub fn submission_port(&self) -> u16 {
        self.submission_port
    }

    /// Port of the submissions listener: implicit TLS (`smtpd_tls_wrappermode`).
    pub fn submissions_port(&self) -> u16 {
        self.submissions_port
    }

    /// Address of the STARTTLS submission listener, e.g. to put a
    /// [`FaultProxy`](crate::FaultProxy) in front of it.
    pub fn submission_addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.submission_port).into()
    }

    /// Address of the implicit-TLS submissions listener.
    pub fn submissions_addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.submissions_port).into()
    }

    /// PEM file of the run's CA (the same CA as Dovecot's; the certificate is for
    /// `localhost`, `127.0.0.1` and `::1`).
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    /// A rustls client config (ring provider) trusting only the run's CA.
    pub fn tls_client_config(&self) -> Arc<ClientConfig> {
        self.client_config.clone()
    }

    /// Postfix's log file (`maillog_file`, written by postlogd).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The generated `config_directory` (holding `main.cf` and `master.cf`).
    pub fn config_dir(&self) -> &Path {
        &self.etc
    }

    /// SMTP sessions opened since start (smtpd's `connect from` lines, both listeners). The
    /// line is written as the session opens, so this is exact once the client saw the
    /// greeting and the log caught up (a few ms).
    pub fn connections(&self) -> usize {
        self.events().iter().filter(|e| matches!(e, Event::Connect(_))).count()
    }

    /// Sessions that are open (or whose `disconnect from` line is not written yet).
    pub fn open_connections(&self) -> usize {
        let events = self.events();
        let mut open = HashSet::new();
        for e in &events {
            match e {
                Event::Connect(pid) => {
                    open.insert(*pid);
                }
                Event::Disconnect { pid, .. } => {
                    open.remove(pid);
                }
                _ => {}
            }
        }
        open.len()
    }

    /// Successful SMTP AUTHs in sessions that have ended: the sum of the successes in
    /// smtpd's per-session summary (`disconnect from ... auth=1`, or `auth=0/1` where the
    /// second number counts attempts). A session still open is not counted yet; call
    /// [`Postfix::wait_closed`] first.
    pub fn auths(&self) -> usize {
        self.events().iter().map(|e| if let Event::Disconnect { auth, .. } = e { auth.0 } else { 0 }).sum()
    }

    /// AUTH attempts that did not succeed in sessions that have ended (attempts minus
    /// successes in the same summaries as [`Postfix::auths`]). This includes exchanges the
    /// client abandoned, which Postfix logs no warning for: lettre, for one, drops the
    /// connection instead of answering a refused XOAUTH2's challenge.
    pub fn auth_failures(&self) -> usize {
        self.events().iter().map(|e| if let Event::Disconnect { auth, .. } = e { auth.1 - auth.0 } else { 0 }).sum()
    }

    /// Messages accepted from authenticated clients: distinct queue ids with smtpd's
    /// `client=..., sasl_method=..., sasl_username=...` line that also reached the queue
    /// manager (`from=<...>, size=..., nrcpt=... (queue active)`). smtpd logs its line at the
    /// first accepted RCPT, so a transaction abandoned before the end of DATA is not counted.
    /// The queue manager logs a few ms after the client saw `250`: poll with
    /// [`Postfix::wait_for`] right after sending.
    pub fn accepted_messages(&self) -> usize {
        self.accepted_by_user().values().sum()
    }

    /// Accepted messages of the SASL user `user` (as in [`Postfix::accepted_messages`]).
    pub fn accepted_messages_from(&self, user: &str) -> usize {
        self.accepted_by_user().get(user).copied().unwrap_or(0)
    }

    /// The highest number of SMTP sessions open at the same time since start, replayed from
    /// the order of `connect from` / `disconnect from` lines (each smtpd process serves one
    /// session at a time, so its pid identifies the session). This proves a bound over a whole
    /// test, such as "the client never held more than one connection".
    pub fn max_concurrent_connections(&self) -> usize {
        let mut open = HashSet::new();
        let mut max = 0;
        for e in self.events() {
            match e {
                Event::Connect(pid) => {
                    open.insert(pid);
                    max = max.max(open.len());
                }
                Event::Disconnect { pid, .. } => {
                    open.remove(&pid);
                }
                _ => {}
            }
        }
        max
    }

    /// Waits until `cond` holds or `timeout` passes; returns whether it held. It polls every
    /// 20 ms without blocking the runtime, e.g.
    /// `postfix.wait_for(|p| p.accepted_messages() == 2, Duration::from_secs(5)).await`.
    pub async fn wait_for(&self, cond: impl Fn(&Postfix) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every session that was logged has logged its `disconnect from` line, so
    /// [`Postfix::auths`] and the other counters are final for clients that have quit.
    /// Returns whether that happened within `timeout`.
    pub async fn wait_closed(&self, timeout: Duration) -> bool {
        self.wait_for(|p| p.open_connections() == 0, timeout).await
    }

    /// Stops Postfix (SIGTERM to the master, then SIGKILL to what is left of its process
    /// group). Connections are cut and queued mail stays in the queue.
    pub async fn stop(&self) {
        self.kill();
    }

    /// Whether Postfix (the `postfix start-fg` process that waits for the master) is running.
    pub fn is_running(&self) -> bool {
        let mut child = self.child.lock().unwrap();
        match child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last `n` lines of Postfix's log (plus anything written to stderr).
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.read_log();
        let lines: Vec<&str> = log.lines().collect();
        let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
        let stderr = fs::read_to_string(&self.stderr_path).unwrap_or_default();
        if !stderr.trim().is_empty() {
            out.push_str("\n--- stderr ---\n");
            out.push_str(stderr.trim_end());
        }
        out
    }

    /// A report for failure messages: ports, paths and the last 40 log lines.
    pub fn diagnostics(&self) -> String {
        format!(
            "Postfix test bed: submission (STARTTLS) 127.0.0.1:{} submissions (TLS) 127.0.0.1:{} \
             -> LMTP {} auth {}\n  config: {}\n  log: {}\n--- last log lines ---\n{}",
            self.submission_port,
            self.submissions_port,
            self.lmtp,
            self.auth,
            self.etc.join("main.cf").display(),
            self.log_path.display(),
            self.log_tail(40)
        )
    }

    /// The `postfix` command reports a bad `main.cf` (an unusable `inet_interfaces`, say)
    /// before its logging is set up, and then writes to stderr only if that is a terminal, so
    /// such a failure leaves no log at all. In that case this runs `postfix check` under
    /// script(1), which gives it a terminal, and returns what it said.
    fn early_complaints(&self) -> String {
        if !self.read_log().trim().is_empty() {
            return String::new();
        }
        let check = format!("{} -c '{}' check", postfix_binary(), self.etc.display());
        let Ok(out) = Command::new("script").args(["-qec", &check, "/dev/null"]).stdin(Stdio::null()).output() else {
            return String::new();
        };
        let said = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        if said.trim().is_empty() {
            String::new()
        } else {
            format!("\n--- `postfix check` says ---\n{}", said.trim_end())
        }
    }

    fn read_log(&self) -> String {
        fs::read(&self.log_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// This run's log lines, from after the readiness probe.
    fn run_log(&self) -> String {
        let start = *self.log_start.lock().unwrap() as usize;
        let log = fs::read(&self.log_path).unwrap_or_default();
        String::from_utf8_lossy(log.get(start..).unwrap_or_default()).into_owned()
    }

    fn events(&self) -> Vec<Event> {
        parse_events(&self.run_log())
    }

    fn accepted_by_user(&self) -> HashMap<String, usize> {
        let mut users: HashMap<String, String> = HashMap::new();
        let mut queued: HashSet<String> = HashSet::new();
        for e in self.events() {
            match e {
                Event::Submitted { queue_id, user } => {
                    users.insert(queue_id, user);
                }
                Event::Queued(queue_id) => {
                    queued.insert(queue_id);
                }
                _ => {}
            }
        }
        let mut by_user = HashMap::new();
        for (queue_id, user) in users {
            if queued.contains(&queue_id) {
                *by_user.entry(user).or_default() += 1;
            }
        }
        by_user
    }

    fn write_config(&self) {
        let root = self.dir.path().display().to_string();
        let overridden: HashSet<&str> = self
            .opts
            .extra_main_cf
            .lines()
            .filter(|l| !l.starts_with([' ', '\t', '#']))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
            .collect();
        let mut c = String::new();
        c.push_str("# Generated by mailwatch-testbed for one test run.\n");
        for (k, v) in [
            ("compatibility_level", "3.6".to_string()),
            ("queue_directory", self.queue.display().to_string()),
            ("data_directory", format!("{root}/data")),
            ("mail_owner", "postfix".into()),
            // Log through postlogd into the temp dir: readable, and no syslog needed.
            ("maillog_file", self.log_path.display().to_string()),
            ("maillog_file_prefixes", root.clone()),
            ("myhostname", "localhost".into()),
            ("mydestination", String::new()),
            ("inet_interfaces", "127.0.0.1".into()),
            ("inet_protocols", "ipv4".into()),
            ("smtpd_banner", "$myhostname ESMTP Mailwatch test bed (Postfix)".into()),
            // No system files: no aliases, no NIS, no DNS.
            ("alias_maps", String::new()),
            ("alias_database", String::new()),
            ("smtpd_peername_lookup", "no".into()),
            ("lmtp_host_lookup", "native".into()),
            ("biff", "no".into()),
            // TLS with the run's certificate; AUTH only inside TLS.
            ("smtpd_tls_cert_file", format!("{root}/server.pem")),
            ("smtpd_tls_key_file", format!("{root}/server.key")),
            ("smtpd_tls_auth_only", "yes".into()),
            // SASL by Dovecot's auth service, so tokens are checked as for IMAP. The default
            // security options (noanonymous) keep XOAUTH2 and OAUTHBEARER advertised.
            ("smtpd_sasl_type", "dovecot".into()),
            ("smtpd_sasl_path", format!("inet:{}", self.auth)),
            ("smtpd_sasl_auth_enable", "yes".into()),
            // Authenticated clients may send anywhere; nobody else may send at all.
            ("smtpd_relay_restrictions", "permit_sasl_authenticated, reject".into()),
            (
                "smtpd_recipient_restrictions",
                format!("check_recipient_access texthash:{root}/recipient_access, permit_sasl_authenticated, reject"),
            ),
            // Every domain is a virtual mailbox domain delivered by Dovecot over LMTP, which
            // accepts any address (static userdb).
            ("virtual_mailbox_domains", "static:all".into()),
            ("virtual_mailbox_maps", "static:ok".into()),
            ("virtual_transport", format!("lmtp:inet:{}", self.lmtp)),
            // New mail is delivered at once anyway; these only matter after a deferral
            // (e.g. Dovecot stopped), which should then be retried within seconds, not minutes.
            ("queue_run_delay", "1s".into()),
            ("minimal_backoff_time", "1s".into()),
            ("maximal_backoff_time", "2s".into()),
            ("in_flow_delay", "0".into()),
        ] {
            // Leave out what `extra_main_cf` sets: Postfix would take the later line anyway,
            // but warn about the duplicate in every process it starts.
            if !overridden.contains(k) {
                c.push_str(&format!("{k} = {v}\n"));
            }
        }
        c.push_str(&self.opts.extra_main_cf);
        c.push('\n');
        write_config_file(&self.etc.join("main.cf"), &c);

        // Only what submission and LMTP delivery need. Nothing is chrooted (the temp dir
        // holds no chroot tree), and no port 25 listener exists.
        let mut m = String::new();
        m.push_str("# service type private unpriv chroot wakeup maxproc command\n");
        m.push_str(&format!(
            "127.0.0.1:{} inet n - n - - smtpd\n  -o syslog_name=postfix/submission\n  \
             -o smtpd_tls_security_level=encrypt\n",
            self.submission_port
        ));
        m.push_str(&format!(
            "127.0.0.1:{} inet n - n - - smtpd\n  -o syslog_name=postfix/submissions\n  \
             -o smtpd_tls_wrappermode=yes\n  -o smtpd_tls_security_level=encrypt\n",
            self.submissions_port
        ));
        for line in [
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "proxywrite unix - - n - 1 proxymap",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ] {
            m.push_str(line);
            m.push('\n');
        }
        write_config_file(&self.etc.join("master.cf"), &m);
    }

    /// Starts the master and waits until the submission listener greets.
    async fn launch(&self) -> Result<(), String> {
        // A master.pid left by an earlier attempt would name a dead (or reused) pid.
        let _ = fs::remove_file(self.queue.join("pid/master.pid"));
        // `postfix start` otherwise runs its integrity checks, which take 1.5 s; the queue
        // directories they would create are made by `make_queue_and_data_dirs`.
        fs::write(self.queue.join("quick-start"), "").map_err(|e| e.to_string())?;
        let stderr = fs::File::create(&self.stderr_path).map_err(|e| e.to_string())?;
        let child = Command::new(postfix_binary())
            .arg("-c")
            .arg(&self.etc)
            .arg("start-fg")
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().map_err(|e| e.to_string())?)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run postfix: {e}"))?;
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if !self.is_running() {
                return Err("`postfix start-fg` exited during start".into());
            }
            if greets(self.submission_port).await {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("no SMTP greeting within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let the probe's session close in the log, then count from there on.
        let settle = Instant::now() + Duration::from_secs(5);
        loop {
            let log = fs::read(&self.log_path).unwrap_or_default();
            let events = parse_events(&String::from_utf8_lossy(&log));
            let connects = events.iter().filter(|e| matches!(e, Event::Connect(_))).count();
            let disconnects = events.iter().filter(|e| matches!(e, Event::Disconnect { .. })).count();
            if (connects > 0 && connects == disconnects) || Instant::now() > settle {
                *self.log_start.lock().unwrap() = log.len() as u64;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn kill(&self) {
        let Some(mut child) = self.child.lock().unwrap().take() else {
            return;
        };
        // The master makes itself a session (and process group) leader, so it is not in the
        // group of the `postfix start-fg` child; find it by its pid file.
        let master = master_pid(&self.queue);
        if let Some(pid) = master {
            // SAFETY: plain signal sends to processes we started (checked by master_pid).
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_millis(300);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // The master signals its group on SIGTERM; whatever did not exit yet is killed.
        if let Some(pid) = master {
            unsafe { libc::killpg(pid, libc::SIGKILL) };
        }
        unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = child.wait();
        let _ = fs::remove_file(self.queue.join("pid/master.pid"));
    }
}

impl fmt::Display for Postfix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostics())
    }
}

impl fmt::Debug for Postfix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postfix")
            .field("submission_port", &self.submission_port)
            .field("submissions_port", &self.submissions_port)
            .field("log_path", &self.log_path)
            .finish()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            self.dir.keep();
            eprintln!("\n==== test failed; {}\n====", self.diagnostics());
        }
    }
}

/// What the counters need from one log line.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// `postfix/submission/smtpd[pid]: connect from unknown[127.0.0.1]`
    Connect(u32),
    /// `... smtpd[pid]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 ...`, with
    /// the AUTH successes and attempts.
    Disconnect { pid: u32, auth: (usize, usize) },
    /// `... smtpd[pid]: 4ABC123: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice@example.com`
    Submitted { queue_id: String, user: String },
    /// `... qmgr[pid]: 4ABC123: from=<alice@example.com>, size=312, nrcpt=1 (queue active)`
    Queued(String),
}

fn parse_events(log: &str) -> Vec<Event> {
    let mut events = Vec::new();
    for line in log.lines() {
        let Some((head, msg)) = line.split_once("]: ") else { continue };
        let Some((program, pid)) = head.rsplit_once('[') else { continue };
        if program.ends_with("/qmgr") {
            if let Some((queue_id, rest)) = msg.split_once(": from=<")
                && rest.ends_with("(queue active)")
            {
                events.push(Event::Queued(queue_id.to_string()));
            }
            continue;
        }
        if !program.ends_with("/smtpd") {
            continue;
        }
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if msg.starts_with("connect from ") {
            events.push(Event::Connect(pid));
        } else if let Some(rest) = msg.strip_prefix("disconnect from ") {
            // `auth=N` when all N succeeded, `auth=N/M` for N successes out of M attempts.
            let auth = rest.split_whitespace().find_map(|w| w.strip_prefix("auth=")).map_or((0, 0), |v| {
                let (ok, tried) = v.split_once('/').unwrap_or((v, v));
                let ok = ok.parse().unwrap_or(0);
                (ok, tried.parse().unwrap_or(ok).max(ok))
            });
            events.push(Event::Disconnect { pid, auth });
        } else if let Some((queue_id, rest)) = msg.split_once(": client=")
            && let Some(user) = rest.split(", ").find_map(|f| f.strip_prefix("sasl_username="))
        {
            events.push(Event::Submitted { queue_id: queue_id.to_string(), user: user.to_string() });
        }
    }
    events
}

/// The access table for `check_recipient_access`. `texthash:` reads it as text at process
/// start, so no `postmap` is needed.
fn write_recipient_access(path: &Path, opts: &PostfixOptions) {
    let mut t = String::new();
    for rcpt in &opts.rejected_recipients {
        t.push_str(&format!("{rcpt} 550 5.1.1 User unknown\n"));
    }
    for rcpt in &opts.deferred_recipients {
        t.push_str(&format!("{rcpt} 450 4.2.0 Mailbox busy, try again later\n"));
    }
    write_config_file(path, &t);
}

/// Writes a file Postfix reads as configuration, dated a minute back. Postfix does not read a
/// file whose modification time is the current second (it might still be being written): it
/// polls every 300 ms until the second has passed, which made every start take 1–2.5 s.
fn write_config_file(path: &Path, text: &str) {
    let file = fs::File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    std::io::Write::write_all(&mut &file, text.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let past = std::time::SystemTime::now() - Duration::from_secs(60);
    file.set_modified(past).unwrap_or_else(|e| panic!("cannot date {}: {e}", path.display()));
}

/// Makes the queue and data directories with the owners and modes of Debian's postfix-files,
/// which is what `postfix start`'s slow integrity check would otherwise create.
fn make_queue_and_data_dirs(root: &Path) {
    let (owner_uid, owner_gid) = lookup_user("postfix").expect("no `postfix` user: is Postfix installed?");
    let postdrop = lookup_group("postdrop").expect("no `postdrop` group: is Postfix installed?");
    let queue = root.join("queue");
    let dirs: [(&str, u32, u32, u32); 15] = [
        ("", 0, 0, 0o755),
        ("pid", 0, 0, 0o755),
        ("active", owner_uid, 0, 0o700),
        ("bounce", owner_uid, 0, 0o700),
        ("corrupt", owner_uid, 0, 0o700),
        ("defer", owner_uid, 0, 0o700),
        ("deferred", owner_uid, 0, 0o700),
        ("flush", owner_uid, 0, 0o700),
        ("hold", owner_uid, 0, 0o700),
        ("incoming", owner_uid, 0, 0o700),
        ("private", owner_uid, 0, 0o700),
        ("saved", owner_uid, 0, 0o700),
        ("trace", owner_uid, 0, 0o700),
        ("maildrop", owner_uid, postdrop, 0o730),
        ("public", owner_uid, postdrop, 0o710),
    ];
    for (name, uid, gid, mode) in dirs {
        let path = queue.join(name);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("cannot chown {}: {e}", path.display()));
        util::set_mode(&path, mode);
    }
    let data = root.join("data");
    fs::create_dir_all(&data).expect("create data dir");
    std::os::unix::fs::chown(&data, Some(owner_uid), Some(owner_gid)).expect("chown data dir to postfix");
    util::set_mode(&data, 0o700);
}

/// The master's pid from its pid file, if that pid is still a Postfix master (so a stale file
/// never makes us signal an unrelated process).
fn master_pid(queue: &Path) -> Option<libc::pid_t> {
    let text = fs::read_to_string(queue.join("pid/master.pid")).ok()?;
    let pid: libc::pid_t = text.trim().parse().ok()?;
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (pid > 1 && comm.trim() == "master").then_some(pid)
}

/// Connects to the submission port, reads a `220` greeting and says QUIT.
async fn greets(port: u16) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.ok()?;
        let ok = buf[..n].starts_with(b"220");
        let _ = s.write_all(b"QUIT\r\n").await;
        let _ = s.read(&mut buf).await;
        Some(ok)
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Some(true)))
}

fn lookup_group(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getgrnam returns a pointer into static storage or null; we copy out at once.
    let gr = unsafe { libc::getgrnam(cname.as_ptr()) };
    if gr.is_null() {
        return None;
    }
    unsafe { Some((*gr).gr_gid) }
}

fn postfix_binary() -> String {
    ["/usr/sbin/postfix", "/usr/local/sbin/postfix"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map_or_else(|| "/usr/sbin/postfix".to_string(), |p| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_become_events() {
        let log = "\
Dec 07 06:07:12 localhost postfix/submission/smtpd[24731]: connect from unknown[127.0.0.1]
Dec 07 06:07:12 localhost postfix/submission/smtpd[24731]: 38CAA998142: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice@example.com
Dec 07 06:07:12 localhost postfix/cleanup[24735]: 38CAA998142: message-id=<x@localhost>
Dec 07 06:07:12 localhost postfix/qmgr[24091]: 38CAA998142: from=<alice@example.com>, size=312, nrcpt=1 (queue active)
Dec 07 06:07:12 localhost postfix/submissions/smtpd[24736]: connect from unknown[127.0.0.1]
Dec 07 06:07:12 localhost postfix/submission/smtpd[24731]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1/2 rcpt=1/3 data=1 quit=1 commands=8/11
Dec 07 06:07:12 localhost postfix/submissions/smtpd[24736]: warning: unknown[127.0.0.1]: SASL XOAUTH2 authentication failed: (reason unavailable), sasl_username=alice@example.com
Dec 07 06:07:12 localhost postfix/submissions/smtpd[24736]: disconnect from unknown[127.0.0.1] ehlo=1 auth=0/1 mail=1 rcpt=0/1 quit=1 commands=3/5
";
        assert_eq!(
            parse_events(log),
            vec![
                Event::Connect(24731),
                Event::Submitted { queue_id: "38CAA998142".into(), user: "alice@example.com".into() },
                Event::Queued("38CAA998142".into()),
                Event::Connect(24736),
                Event::Disconnect { pid: 24731, auth: (1, 1) },
                Event::Disconnect { pid: 24736, auth: (0, 1) },
            ]
        );
    }
}
