//! Dovecot (the Debian package) on loopback, configured and started for one test run.
//!
//! Each [`Dovecot`] owns a temp dir holding its generated config, a CA made for the run,
//! a passwd-file, maildirs and the log. It listens on free loopback ports: implicit TLS
//! (imaps), plain IMAP with STARTTLS, LMTP (so an MTA such as [`Postfix`](crate::Postfix) can
//! deliver) and Dovecot's authentication service (so that MTA checks SMTP AUTH exactly as IMAP
//! checks logins). Password logins are checked against the passwd-file; XOAUTH2 and
//! OAUTHBEARER tokens are checked by Dovecot itself through token introspection against the
//! run's [`OAuthServer`](crate::OAuthServer) when an introspection URL is given.
//!
//! The userdb is static with `allow_all_users`, so every name is a mailbox: LMTP delivers to
//! passwd-file users and to users who only ever sign in with a token alike.
//!
//! The record helpers (`sessions_for`, `logins_for`, ...) and `create_folder` are synchronous
//! and block the calling thread briefly (they run `doveadm` or wait ~100 ms for the log to
//! settle); call them between steps of a test, not from inside the code under test.
//!
//! Failures are made easy to diagnose: start panics with the log lines, and a handle dropped
//! while its thread panics prints where the log is and its last lines, and keeps the temp dir.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;

use crate::tls::{self, RunCa};
use crate::util::{self, TempDir};

/// How long a start may take before it is declared failed. Normal starts take 50–300 ms.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings for one Dovecot instance. `Default` gives a server fit for most tests.
#[derive(Clone, Debug)]
pub struct DovecotOptions {
    /// Dovecot's `mail_max_userip_connections` (its own default is 10; IDLE sessions count).
    pub max_userip_connections: u32,
    /// Token introspection URL for the `oauth2` passdb. `None` disables XOAUTH2/OAUTHBEARER
    /// logins (they are still advertised, but always fail).
    pub introspection_url: Option<String>,
    /// Folder names declared with a SPECIAL-USE flag from the start, e.g. `("Junk", "\\Junk")`.
    /// [`Dovecot::create_folder`] can add more at run time.
    pub special_use: Vec<(String, String)>,
    /// Turns on `auth_debug` and `mail_debug` (verbose, but explains failed logins).
    pub debug: bool,
    /// Offers the NOTIFY extension (RFC 5465). Dovecot 2.3 offers it after login by default
    /// (it needs `mailbox_list_index = yes`, its default; the greeting does not list it);
    /// false takes it out of the capability list, as on most servers, which do not offer it.
    pub notify: bool,
    /// Lines appended verbatim to the generated `dovecot.conf`.
    pub extra_config: String,
}

impl Default for DovecotOptions {
    fn default() -> Self {
        DovecotOptions {
            max_userip_connections: 100,
            introspection_url: None,
            special_use: [
                ("Drafts", "\\Drafts"),
                ("Sent", "\\Sent"),
                ("Junk", "\\Junk"),
                ("Trash", "\\Trash"),
                ("Archive", "\\Archive"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
            debug: false,
            notify: true,
            extra_config: String::new(),
        }
    }
}

/// A running Dovecot, stopped (and its temp dir removed) on drop.
pub struct Dovecot {
    dir: TempDir,
    conf_path: PathBuf,
    log_path: PathBuf,
    stderr_path: PathBuf,
    passwd_path: PathBuf,
    ca_pem_path: PathBuf,
    ca: RunCa,
    client_config: Arc<ClientConfig>,
    imaps_port: u16,
    imap_port: u16,
    lmtp_port: u16,
    auth_port: u16,
    opts: DovecotOptions,
    state: Mutex<State>,
    child: Mutex<Option<Child>>,
}

#[derive(Default)]
struct State {
    users: BTreeMap<String, String>,
    /// Whether the passdb that refuses logins with a reason ([`Dovecot::refuse_login`]) is
    /// in the config.
    refusals: bool,
    special_use: Vec<(String, String)>,
    /// (user, folder) pairs known to exist, to skip `doveadm mailbox create`.
    folders: HashSet<(String, String)>,
    /// Users whose XOAUTH2 logins are refused as "authenticated but not connected".
    not_connected: Vec<String>,
}

/// Who Dovecot's mail processes run as: `nobody` when we are root (Dovecot refuses uids
/// below 500 for mail), otherwise ourselves.
struct MailOwner {
    uid: u32,
    gid: u32,
    user: String,
    group: String,
    root: bool,
}

impl MailOwner {
    fn detect() -> MailOwner {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if euid == 0 {
            let (uid, gid) = lookup_user("nobody").expect("no `nobody` user on this machine");
            let group = lookup_group_name(gid).unwrap_or_else(|| "nogroup".to_string());
            MailOwner { uid, gid, user: "nobody".into(), group, root: true }
        } else {
            // SAFETY: getegid has no preconditions.
            let gid = unsafe { libc::getegid() };
            let user = lookup_user_name(euid).expect("current user has no passwd entry");
            let group = lookup_group_name(gid).unwrap_or_else(|| user.clone());
            MailOwner { uid: euid, gid, user, group, root: false }
        }
    }
}

impl Dovecot {
    /// Generates a config in a fresh temp dir and starts Dovecot on two free loopback ports.
    ///
    /// # Panics
    /// When Dovecot is not installed, or does not greet within 15 s; the message carries the
    /// log path and its last lines.
    pub async fn start(opts: DovecotOptions) -> Dovecot {
        let binary = dovecot_binary();
        assert!(
            Path::new(&binary).exists() || binary == "dovecot",
            "Dovecot is not installed: apt-get install -y dovecot-core dovecot-imapd"
        );
        let owner = MailOwner::detect();
        let dir = TempDir::new("dovecot");
        let root = dir.path().to_path_buf();
        let ca = RunCa::generate();
        let ca_pem_path = root.join("ca.pem");
        fs::write(&ca_pem_path, &ca.ca_pem).expect("write ca.pem");
        fs::write(root.join("server.pem"), &ca.server_cert_pem).expect("write server.pem");
        fs::write(root.join("server.key"), &ca.server_key_pem).expect("write server.key");
        util::set_mode(&root.join("server.key"), 0o600);
        let passwd_path = root.join("passwd");
        fs::write(&passwd_path, "").expect("write passwd");
        util::set_mode(&passwd_path, 0o644);
        let mail = root.join("mail");
        fs::create_dir_all(&mail).expect("create mail dir");
        std::os::unix::fs::chown(&mail, Some(owner.uid), Some(owner.gid)).expect("chown mail dir to the mail user");
        util::set_mode(&mail, 0o755);
        if let Some(url) = &opts.introspection_url {
            let conf = |extra: &str| {
                format!(
                    "introspection_mode = post\n\
                     introspection_url = {url}\n\
                     username_attribute = username\n\
                     active_attribute = active\n\
                     active_value = true\n\
                     {extra}timeout_msecs = 10000\n"
                )
            };
            fs::write(root.join("oauth2.conf.ext"), conf("")).expect("write oauth2.conf.ext");
            // The same check for the accounts IMAP does not serve (`set_imap_not_connected`):
            // the token is good, and the login is refused with the reason introspection gives.
            fs::write(
                root.join("oauth2-not-connected.conf.ext"),
                conf("pass_attrs = nologin=y reason=%{oauth2:reason}\n"),
            )
            .expect("write oauth2-not-connected.conf.ext");
        }
        let client_config = tls::client_config(&ca.ca_der);
        let mut dovecot = Dovecot {
            conf_path: root.join("dovecot.conf"),
            log_path: root.join("dovecot.log"),
            stderr_path: root.join("dovecot.stderr"),
            passwd_path,
            ca_pem_path,
            ca,
            client_config,
            imaps_port: 0,
            imap_port: 0,
            lmtp_port: 0,
            auth_port: 0,
            state: Mutex::new(State { special_use: opts.special_use.clone(), ..State::default() }),
            opts,
            child: Mutex::new(None),
            dir,
        };
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let ports = util::free_ports(4);
            dovecot.imaps_port = ports[0];
            dovecot.imap_port = ports[1];
            dovecot.lmtp_port = ports[2];
            dovecot.auth_port = ports[3];
            dovecot.write_config();
            match dovecot.launch().await {
                Ok(()) => return dovecot,
                Err(e) => {
                    dovecot.kill();
                    let tail = dovecot.log_tail(40);
                    // Another process may have taken a port between probe and bind: retry.
                    if tail.contains("Address already in use") {
                        last_error = e;
                        continue;
                    }
                    dovecot.dir.keep();
                    panic!("cannot start Dovecot: {e}\n{}", dovecot.diagnostics());
                }
            }
        }
        dovecot.dir.keep();
        panic!("cannot start Dovecot after 3 attempts: {last_error}\n{}", dovecot.diagnostics());
    }

    /// Port of the implicit-TLS listener (imaps).
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    /// Port of the plain listener, which offers STARTTLS.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// Address of the implicit-TLS listener, e.g. to put a [`FaultProxy`](crate::FaultProxy)
    /// in front of it.
    pub fn imaps_addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.imaps_port).into()
    }

    /// Address of the plain/STARTTLS listener.
    pub fn imap_addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.imap_port).into()
    }

    /// Address of the LMTP listener (plain, no authentication): `RCPT TO` any address
    /// delivers to that user's INBOX.
    pub fn lmtp_addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.lmtp_port).into()
    }

    /// Address of Dovecot's authentication service (the auth-client protocol that Postfix's
    /// `smtpd_sasl_type = dovecot` speaks). It checks passwords and tokens with the same
    /// passdbs as IMAP logins.
    pub fn auth_addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.auth_port).into()
    }

    /// PEM file of the CA that signed the server certificate (valid for `localhost`,
    /// `127.0.0.1` and `::1`).
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    /// The run's CA certificate as PEM text.
    pub fn ca_pem(&self) -> String {
        self.ca.ca_pem.clone()
    }

    /// The run's CA certificate in DER form.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca.ca_der
    }

    /// The run's CA with the server certificate and key, for other servers of the same run.
    pub(crate) fn run_ca(&self) -> &RunCa {
        &self.ca
    }

    /// A rustls client config (ring provider) trusting only the run's CA.
    pub fn tls_client_config(&self) -> Arc<ClientConfig> {
        self.client_config.clone()
    }

    /// Dovecot's log file (all services log here).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The generated `dovecot.conf`.
    pub fn config_path(&self) -> &Path {
        &self.conf_path
    }

    /// Adds (or changes the password of) a password user. Any string without `:` or newline
    /// works as a name; a full email address is usual. Takes effect for the next login.
    pub fn add_user(&self, user: &str, password: &str) {
        assert!(
            !user.contains([':', '\n']) && !password.contains([':', '\n']),
            "passwd-file users and passwords cannot contain ':' or newlines"
        );
        let mut state = self.state.lock().unwrap();
        state.users.insert(user.to_string(), password.to_string());
        let mut text = String::new();
        for (u, p) in &state.users {
            text.push_str(&format!("{u}:{{PLAIN}}{p}::::::\n"));
        }
        // Write and rename, so Dovecot never reads a half-written file; the new inode also
        // makes it reload the file on the next lookup.
        let tmp = self.passwd_path.with_extension("tmp");
        fs::write(&tmp, text).expect("write passwd");
        util::set_mode(&tmp, 0o644);
        fs::rename(&tmp, &self.passwd_path).expect("replace passwd");
    }

    /// Makes Dovecot refuse the password logins of `user` with `reason` as the words of its
    /// `NO` (`a NO [CONTACTADMIN] <reason>`), or accept them again with `None`: a server's
    /// refusal a test cannot otherwise provoke, such as Outlook's "Request is throttled.
    /// Suggested Backoff Time: 2000 milliseconds". A passdb `checkpassword` script answers
    /// `nologin` with the `reason` extra field for users with a reason on file (passwd-file's
    /// own extra fields cannot hold spaces). The first call adds that passdb and reloads
    /// Dovecot; later ones only change the file, which the next login reads.
    pub fn refuse_login(&self, user: &str, reason: Option<&str>) {
        assert!(!user.contains(['/', '\n', '\0']), "a user name usable as a file name");
        let dir = self.dir.path().join("refusals");
        fs::create_dir_all(&dir).expect("create the refusals dir");
        util::set_mode(&dir, 0o755);
        let file = dir.join(user);
        match reason {
            Some(r) => {
                assert!(!r.contains(['\n', '\r', '\t']), "a reason is one line");
                fs::write(&file, r).expect("write the refusal");
                util::set_mode(&file, 0o644);
            }
            None => {
                let _ = fs::remove_file(&file);
            }
        }
        let added = {
            let mut state = self.state.lock().unwrap();
            !std::mem::replace(&mut state.refusals, true)
        };
        if added {
            let script = self.dir.path().join("refuse.sh");
            fs::write(
                &script,
                format!(
                    "#!/bin/sh\n\
                     # checkpassword: fd 3 holds \"user\\0password\\0\"; a user with a reason on file is refused with it.\n\
                     user=$(tr '\\0' '\\n' <&3 | head -n 1)\n\
                     f=\"{}/$user\"\n\
                     [ -f \"$f\" ] || exit 1\n\
                     reason=$(cat \"$f\"); nologin=y; EXTRA=\"nologin reason\"; USER=\"$user\"\n\
                     export reason nologin EXTRA USER\n\
                     exec \"$@\"\n",
                    dir.display()
                ),
            )
            .expect("write refuse.sh");
            util::set_mode(&script, 0o755);
            self.write_config();
            self.reload();
        }
    }

    /// Delivers `raw` (an RFC 5322 message) into `folder` of `user`, creating the folder
    /// when needed. IDLE clients are notified as for any delivery.
    ///
    /// # Panics
    /// When `doveadm save` fails.
    pub async fn append(&self, user: &str, folder: &str, raw: &[u8]) {
        self.ensure_folder(user, folder, None);
        let args = self.doveadm_args(&["save", "-u", user, "-m", folder]);
        let raw = raw.to_vec();
        let out =
            tokio::task::spawn_blocking(move || run_with_stdin(&args, &raw)).await.expect("doveadm save task panicked");
        if let Err(e) = out {
            panic!("cannot append to {folder} of {user}: {e}\n{}", self.diagnostics());
        }
    }

    /// Drops `raw` into the INBOX of `user` the way a local delivery agent does (written to
    /// the maildir's `tmp/`, then renamed into `new/`), without Dovecot: for mail that lands
    /// while Dovecot is stopped. The next session sees it as new mail. The user must have
    /// logged in once, so the maildir exists.
    ///
    /// # Panics
    /// When the maildir is missing or cannot be written.
    pub fn deliver_offline(&self, user: &str, raw: &[u8]) {
        let maildir = self.dir.path().join("mail").join(user).join("Maildir");
        let name = format!(
            "{}.M{}P{}.mailwatch-testbed",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_micros(),
            std::process::id()
        );
        let (tmp, new) = (maildir.join("tmp").join(&name), maildir.join("new").join(&name));
        fs::write(&tmp, raw).unwrap_or_else(|e| panic!("cannot write {}: {e}\n{}", tmp.display(), self.diagnostics()));
        let owner = MailOwner::detect();
        if owner.root {
            let path = std::ffi::CString::new(tmp.as_os_str().as_encoded_bytes()).expect("no NUL in a path");
            // SAFETY: a valid NUL-terminated path; chown has no other preconditions.
            unsafe { libc::chown(path.as_ptr(), owner.uid, owner.gid) };
        }
        util::set_mode(&tmp, 0o600);
        fs::rename(&tmp, &new).unwrap_or_else(|e| panic!("cannot deliver to {}: {e}", new.display()));
    }

    /// Refuses (`on`) or accepts again the XOAUTH2 and OAUTHBEARER logins of `user` the way
    /// Outlook refuses a mailbox IMAP does not serve: the token is checked and good, and the
    /// answer is `NO [CONTACTADMIN]` with the reason the introspection gives (the test bed's
    /// [`OAuthServer`](crate::OAuthServer) gives [`NOT_CONNECTED`](crate::NOT_CONNECTED)
    /// once told with `set_imap_not_connected`; [`TestBed::set_imap_not_connected`](crate::TestBed::set_imap_not_connected)
    /// does both). Dovecot reloads; sessions already open stay.
    pub fn set_not_connected(&self, user: &str, on: bool) {
        {
            let mut state = self.state.lock().unwrap();
            state.not_connected.retain(|u| u != user);
            if on {
                state.not_connected.push(user.to_string());
            }
        }
        self.write_config();
        self.reload();
    }

    /// The maildir (`LAYOUT=fs`) home of `user`'s mail: INBOX in `cur`/`new` here, other
    /// folders in subdirectories named like them.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user).join("Maildir")
    }

    /// The folder declared with `flag` (e.g. `\\Junk`), if any.
    pub fn special_use_folder(&self, flag: &str) -> Option<String> {
        self.state.lock().unwrap().special_use.iter().find(|(_, f)| f == flag).map(|(n, _)| n.clone())
    }

    /// Creates `folder` for `user` (subscribed). With `special_use` (e.g. `Some("\\Junk")`),
    /// the folder name is declared with that flag — in Dovecot this is per folder name for all
    /// users — and Dovecot reloads its config, which affects new sessions only.
    ///
    /// # Panics
    /// When `doveadm` fails for another reason than the folder existing already.
    pub fn create_folder(&self, user: &str, folder: &str, special_use: Option<&str>) {
        self.ensure_folder(user, folder, special_use);
    }

    fn ensure_folder(&self, user: &str, folder: &str, special_use: Option<&str>) {
        if let Some(flag) = special_use {
            let changed = {
                let mut state = self.state.lock().unwrap();
                let entry = (folder.to_string(), flag.to_string());
                if state.special_use.contains(&entry) {
                    false
                } else {
                    state.special_use.retain(|(f, _)| f != folder);
                    state.special_use.push(entry);
                    true
                }
            };
            if changed {
                self.write_config();
                self.reload();
            }
        }
        if folder.eq_ignore_ascii_case("INBOX") {
            return;
        }
        let key = (user.to_string(), folder.to_string());
        if self.state.lock().unwrap().folders.contains(&key) {
            return;
        }
        let args = self.doveadm_args(&["mailbox", "create", "-s", "-u", user, folder]);
        match run_with_stdin(&args, b"") {
            Ok(_) => {}
            Err(e) if e.contains("already exists") => {}
            Err(e) => panic!("cannot create {folder} for {user}: {e}\n{}", self.diagnostics()),
        }
        self.state.lock().unwrap().folders.insert(key);
    }

    /// Disconnects every IMAP session of `user` (`doveadm kick`), as a server does when it
    /// drops a client; the client sees the connection close.
    ///
    /// # Panics
    /// When `doveadm kick` fails.
    pub fn kick(&self, user: &str) {
        let args = self.doveadm_args(&["kick", user]);
        if let Err(e) = run_with_stdin(&args, b"") {
            panic!("doveadm kick failed: {e}\n{}", self.diagnostics());
        }
    }

    /// Open IMAP sessions of `user` right now, from Dovecot's own record (`doveadm who`,
    /// backed by the anvil process that also enforces `mail_max_userip_connections`).
    pub fn sessions_for(&self, user: &str) -> usize {
        let args = self.doveadm_args(&["who", "-1", user]);
        let out =
            run_with_stdin(&args, b"").unwrap_or_else(|e| panic!("doveadm who failed: {e}\n{}", self.diagnostics()));
        out.lines().filter(|l| l.split_whitespace().next() == Some(user)).count()
    }

    /// Successful IMAP logins of `user` since this Dovecot was created (over restarts),
    /// counted from the log's `Login: user=<...>` lines. Dovecot logs a login a moment after
    /// the client saw `OK`, so this first waits until the log has been quiet for 100 ms.
    pub fn logins_for(&self, user: &str) -> usize {
        let needle = format!(": Login: user=<{user}>,");
        self.read_settled_log().lines().filter(|l| l.contains("imap-login: ") && l.contains(&needle)).count()
    }

    /// Messages LMTP saved to the INBOX of `user` since this Dovecot was created, counted from
    /// the log's `saved mail to INBOX` lines after the log has been quiet for 100 ms (like
    /// [`Dovecot::logins_for`]). An MTA delivers a moment after it accepted a message, so
    /// right after sending, use [`Dovecot::wait_deliveries`].
    pub fn deliveries_for(&self, user: &str) -> usize {
        count_deliveries(&self.read_settled_log(), user)
    }

    /// Waits until at least `n` messages were delivered to the INBOX of `user` (as counted by
    /// [`Dovecot::deliveries_for`]) or `timeout` passed, and returns the count then. It polls
    /// the log without blocking the runtime, so servers in the same test keep running.
    pub async fn wait_deliveries(&self, user: &str, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = count_deliveries(&self.read_log(), user);
            if seen >= n || Instant::now() >= deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Failed authentications of `user` (password or token), counted from the auth process's
    /// log lines: `Password mismatch`, `unknown user`, `oauth2 failed`.
    pub fn auth_failures_for(&self, user: &str) -> usize {
        let prefix = format!("({user},");
        self.read_settled_log()
            .lines()
            .filter(|l| {
                l.contains("auth: ")
                    && l.contains(&prefix)
                    && (l.contains("Password mismatch") || l.contains("unknown user") || l.contains("oauth2 failed"))
            })
            .count()
    }

    /// Logins of `user` refused by `mail_max_userip_connections` (the client saw
    /// `NO [LIMIT] ...`), counted from the log.
    pub fn limit_refusals_for(&self, user: &str) -> usize {
        let needle = format!("user=<{user}>,");
        self.read_settled_log()
            .lines()
            .filter(|l| l.contains("Maximum number of connections") && l.contains(&needle))
            .count()
    }

    /// The highest number of IMAP sessions `user` held at the same time since this Dovecot
    /// was created, replayed from the log: each `Login:` line opens a session (by its session
    /// id), its `Disconnected` line closes it. This proves a bound over a whole test, not just
    /// at one instant. Sessions cut off by a restart are closed at the restart.
    pub fn max_sessions_seen(&self, user: &str) -> usize {
        self.max_open_sessions(Some(user))
    }

    /// [`Dovecot::max_sessions_seen`] over all users together.
    pub fn max_total_sessions_seen(&self) -> usize {
        self.max_open_sessions(None)
    }

    fn max_open_sessions(&self, user: Option<&str>) -> usize {
        let login = user.map_or_else(|| ": Login: user=<".to_string(), |u| format!(": Login: user=<{u}>,"));
        let mail_prefix = user.map_or_else(|| "imap(".to_string(), |u| format!("imap({u})<"));
        let mut open: HashSet<String> = HashSet::new();
        let mut max = 0;
        for line in self.read_settled_log().lines() {
            if line.contains("master: Info: Dovecot v") {
                open.clear();
            } else if line.contains("imap-login: ") && line.contains(&login) {
                if let Some(id) = between(line, "session=<", ">") {
                    open.insert(id.to_string());
                    max = max.max(open.len());
                }
            } else if let Some(rest) = line.split_once(&mail_prefix).map(|(_, r)| r) {
                // imap(user)<pid><session>: Info: Disconnected: ...
                let rest = if user.is_some() { rest } else { rest.split_once(")<").map_or("", |(_, r)| r) };
                if let Some((ids, msg)) = rest.split_once(": ")
                    && msg.trim_start_matches("Info: ").starts_with("Disconnected")
                    && let Some(id) = ids.split('<').nth(1).map(|s| s.trim_end_matches('>'))
                {
                    open.remove(id);
                }
            }
        }
        max
    }

    /// When each IMAP login since Dovecot last started happened, in seconds after that start,
    /// read off the log's microsecond timestamps (waits until the log is quiet, as
    /// [`Dovecot::logins_for`]). A login rate can be checked with these.
    pub fn login_times_since_start(&self) -> Vec<f64> {
        let mut start = None;
        let mut times = Vec::new();
        for line in self.read_settled_log().lines() {
            let Some(t) = log_time(line) else { continue };
            if line.contains("master: Info: Dovecot v") {
                start = Some(t);
                times.clear();
            } else if line.contains("imap-login: ") && line.contains(": Login: user=<") {
                let from = start.unwrap_or(t);
                // Past midnight the time of day starts again.
                times.push(if t < from { t + 86_400.0 - from } else { t - from });
            }
        }
        times
    }

    /// When each login attempt of `user` since this Dovecot was created ended, in seconds of
    /// the day, from the log's microsecond timestamps, with whether it was refused: a
    /// successful login's `Login:` line, or a refused one's disconnect (logged
    /// as the client hangs up after the `NO`). Waits until the log is quiet, as
    /// [`Dovecot::logins_for`].
    pub fn login_attempts(&self, user: &str) -> Vec<(f64, bool)> {
        let needle = format!("user=<{user}>,");
        self.read_settled_log()
            .lines()
            .filter(|l| l.contains("imap-login: ") && l.contains(&needle))
            .filter_map(|l| {
                // A refused password logs "auth failed"; a passdb's nologin "internal failure".
                let refused =
                    l.contains("Disconnected") && (l.contains("auth failed") || l.contains("internal failure"));
                (refused || l.contains(": Login: ")).then(|| log_time(l).map(|t| (t, refused))).flatten()
            })
            .collect()
    }

    /// The users of the IMAP logins since this Dovecot was created, in the order Dovecot
    /// logged them (waits until the log is quiet, as [`Dovecot::logins_for`]).
    pub fn login_order(&self) -> Vec<String> {
        self.read_settled_log()
            .lines()
            .filter(|l| l.contains("imap-login: "))
            .filter_map(|l| between(l, ": Login: user=<", ">"))
            .map(str::to_string)
            .collect()
    }

    /// Stops Dovecot and starts it again on the same ports and data (sessions are cut).
    ///
    /// # Panics
    /// As [`Dovecot::start`].
    pub async fn restart(&self) {
        self.kill();
        if let Err(e) = self.launch().await {
            self.kill();
            panic!("cannot restart Dovecot: {e}\n{}", self.diagnostics());
        }
    }

    /// Stops Dovecot (SIGTERM to the master, then SIGKILL to what is left of its process
    /// group). Connections are cut. [`Dovecot::restart`] brings it back.
    pub async fn stop(&self) {
        self.kill();
    }

    /// Whether the master process is running.
    pub fn is_running(&self) -> bool {
        let mut child = self.child.lock().unwrap();
        match child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last `n` lines of Dovecot's log (plus anything it wrote to stderr).
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
            "Dovecot test bed: imaps 127.0.0.1:{} imap 127.0.0.1:{} lmtp 127.0.0.1:{} auth 127.0.0.1:{}\n  \
             config: {}\n  log: {}\n--- last log lines ---\n{}",
            self.imaps_port,
            self.imap_port,
            self.lmtp_port,
            self.auth_port,
            self.conf_path.display(),
            self.log_path.display(),
            self.log_tail(40)
        )
    }

    /// Dovecot's processes log through a pipe to its log process, so a line can land in the
    /// file a moment after the client saw the reply. Wait until the file stops growing.
    fn read_settled_log(&self) -> String {
        let size = || fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut last = size();
        let mut quiet = 0;
        while quiet < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            let now = size();
            quiet = if now == last { quiet + 1 } else { 0 };
            last = now;
        }
        self.read_log()
    }

    fn read_log(&self) -> String {
        fs::read(&self.log_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    fn doveadm_args(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec![doveadm_binary(), "-c".to_string(), self.conf_path.display().to_string()];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    fn write_config(&self) {
        let owner = MailOwner::detect();
        let root = self.dir.path().display().to_string();
        let special_use = self.state.lock().unwrap().special_use.clone();
        let mut c = String::new();
        c.push_str("# Generated by mailwatch-testbed for one test run.\n");
        c.push_str(&format!(
            "instance_name = mailwatch-testbed-{}\n",
            self.dir.path().file_name().unwrap().to_string_lossy()
        ));
        for (k, v) in [
            ("base_dir", format!("{root}/run")),
            ("state_dir", format!("{root}/state")),
            ("log_path", self.log_path.display().to_string()),
            ("info_log_path", self.log_path.display().to_string()),
            ("debug_log_path", self.log_path.display().to_string()),
        ] {
            c.push_str(&format!("{k} = {v}\n"));
        }
        // Microseconds, so a test can read a login rate off the log.
        c.push_str("log_timestamp = \"%Y-%m-%d %H:%M:%S.%{usecs} \"\n");
        c.push_str("protocols = imap lmtp\nlisten = 127.0.0.1\n");
        c.push_str(&format!("ssl = yes\nssl_cert = <{root}/server.pem\nssl_key = <{root}/server.key\n"));
        if Path::new("/usr/share/dovecot/dh.pem").exists() {
            c.push_str("ssl_dh = </usr/share/dovecot/dh.pem\n");
        }
        c.push_str("disable_plaintext_auth = no\n");
        c.push_str("auth_mechanisms = plain login xoauth2 oauthbearer\n");
        c.push_str("auth_verbose = yes\nauth_failure_delay = 0\nverbose_proctitle = yes\n");
        if self.opts.debug {
            c.push_str("auth_debug = yes\nmail_debug = yes\n");
        }
        c.push_str("mail_location = maildir:~/Maildir:LAYOUT=fs\n");
        if !self.opts.notify {
            // Dovecot 2.3.19's own list after login, less NOTIFY.
            c.push_str(
                "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY \
                 THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT \
                 CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES \
                 WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE \
                 SAVEDATE LITERAL+ SPECIAL-USE\n",
            );
        }
        // IDLE learns of new mail through inotify, whose instances are limited per user
        // (often 128; `.ci/setup.sh` raises it): past that, Dovecot looks at the folder this often.
        c.push_str("mailbox_idle_check_interval = 1 s\n");
        if !owner.root {
            c.push_str(&format!(
                "default_internal_user = {0}\ndefault_internal_group = {1}\ndefault_login_user = {0}\n",
                owner.user, owner.group
            ));
        }
        c.push_str("namespace inbox {\n  inbox = yes\n  separator = /\n");
        for (folder, flag) in &special_use {
            c.push_str(&format!("  mailbox \"{folder}\" {{\n    special_use = {flag}\n  }}\n"));
        }
        c.push_str("}\n");
        let not_connected = self.state.lock().unwrap().not_connected.clone();
        if self.opts.introspection_url.is_some() && !not_connected.is_empty() {
            c.push_str(&format!(
                "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  username_filter = {}\n  \
                 args = {root}/oauth2-not-connected.conf.ext\n}}\n",
                not_connected.join(" ")
            ));
        }
        if self.opts.introspection_url.is_some() {
            c.push_str(&format!(
                "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {root}/oauth2.conf.ext\n}}\n"
            ));
        }
        if self.state.lock().unwrap().refusals {
            // Before the passwd-file: a user with a reason on file is refused with it, the others
            // fall through (the script exits 1).
            c.push_str(&format!(
                "passdb {{\n  driver = checkpassword\n  mechanisms = plain login\n  args = {root}/refuse.sh\n}}\n"
            ));
        }
        c.push_str(&format!(
            "passdb {{\n  driver = passwd-file\n  mechanisms = plain login\n  args = scheme=PLAIN username_format=%u {}\n}}\n",
            self.passwd_path.display()
        ));
        c.push_str(&format!(
            "userdb {{\n  driver = static\n  args = uid={} gid={} home={root}/mail/%u allow_all_users=yes\n}}\n",
            owner.uid, owner.gid
        ));
        let chroot = if owner.root { "" } else { "  chroot =\n" };
        c.push_str(&format!(
            "service imap-login {{\n\
             \x20 inet_listener imap {{\n    address = 127.0.0.1\n    port = {}\n  }}\n\
             \x20 inet_listener imaps {{\n    address = 127.0.0.1\n    port = {}\n    ssl = yes\n  }}\n\
             \x20 service_count = 0\n  process_min_avail = 2\n  client_limit = 1000\n{chroot}}}\n",
            self.imap_port, self.imaps_port
        ));
        c.push_str("service imap {\n  process_limit = 1024\n}\n");
        // LMTP for an MTA's deliveries. Recipients are looked up in the static userdb, so any
        // address is deliverable, and `%u` keeps the full address as the user name, as IMAP.
        c.push_str(&format!(
            "service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {}\n  }}\n}}\n",
            self.lmtp_port
        ));
        // The auth service on TCP for an MTA's SASL (Postfix's smtpd_sasl_type = dovecot). A
        // listener whose name does not end in -login, -master, -userdb or -token speaks the
        // auth-client protocol.
        c.push_str(&format!(
            "service auth {{\n  inet_listener auth-client {{\n    address = 127.0.0.1\n    port = {}\n  }}\n}}\n",
            self.auth_port
        ));
        c.push_str(&format!(
            "service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n{chroot}}}\n"
        ));
        c.push_str(&format!(
            "protocol imap {{\n  mail_max_userip_connections = {}\n}}\n",
            self.opts.max_userip_connections
        ));
        c.push_str(&self.opts.extra_config);
        c.push('\n');
        fs::write(&self.conf_path, c).expect("write dovecot.conf");
        util::set_mode(&self.conf_path, 0o644);
    }

    /// Starts the master and waits until the plain listener greets.
    async fn launch(&self) -> Result<(), String> {
        let base_dir = self.dir.path().join("run");
        // A stale anvil socket from an earlier start stalls authentication for 5 s.
        let _ = fs::remove_dir_all(&base_dir);
        let stderr = fs::File::create(&self.stderr_path).map_err(|e| e.to_string())?;
        let child = Command::new(dovecot_binary())
            .arg("-F")
            .arg("-c")
            .arg(&self.conf_path)
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().map_err(|e| e.to_string())?)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run dovecot: {e}"))?;
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if !self.is_running() {
                return Err("the dovecot master exited during start".into());
            }
            if greets(self.imap_port).await && TcpStream::connect(self.imaps_addr()).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no IMAP greeting within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn reload(&self) {
        let before = self.read_log().matches("SIGHUP received").count();
        let args = self.doveadm_args(&["reload"]);
        if let Err(e) = run_with_stdin(&args, b"") {
            panic!("doveadm reload failed: {e}\n{}", self.diagnostics());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.read_log().matches("SIGHUP received").count() == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Let the master replace its login and config processes.
        std::thread::sleep(Duration::from_millis(150));
    }

    fn kill(&self) {
        let Some(mut child) = self.child.lock().unwrap().take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain signal sends to a process (group) we started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        // The master waits ~1 s for its children after SIGTERM; nothing it does then matters
        // to a test (base_dir is deleted before every start), so do not wait that long.
        let deadline = Instant::now() + Duration::from_millis(300);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Sessions outlive the master by ~10 s unless the group is killed.
        unsafe { libc::killpg(pid, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl fmt::Display for Dovecot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostics())
    }
}

impl fmt::Debug for Dovecot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dovecot")
            .field("imaps_port", &self.imaps_port)
            .field("imap_port", &self.imap_port)
            .field("lmtp_port", &self.lmtp_port)
            .field("auth_port", &self.auth_port)
            .field("log_path", &self.log_path)
            .finish()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            self.dir.keep();
            eprintln!("\n==== test failed; {}\n====", self.diagnostics());
        }
    }
}

/// Reads the greeting from the plain listener.
async fn greets(port: u16) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.ok()?;
        Some(buf[..n].starts_with(b"* OK"))
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Some(true)))
}

/// `lmtp(bob@example.com)<pid><session>: Info: msgid=<...>: saved mail to INBOX` lines. LMTP
/// logs the user as the userdb knows it: lower-cased by Dovecot's default
/// `auth_username_format = %Lu`.
fn count_deliveries(log: &str, user: &str) -> usize {
    let prefix = format!("lmtp({})<", user.to_ascii_lowercase());
    log.lines().filter(|l| l.contains(&prefix) && l.ends_with(": saved mail to INBOX")).count()
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

fn dovecot_binary() -> String {
    first_existing(&["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"], "dovecot")
}

fn doveadm_binary() -> String {
    first_existing(&["/usr/bin/doveadm", "/usr/local/bin/doveadm"], "doveadm")
}

fn first_existing(paths: &[&str], fallback: &str) -> String {
    paths.iter().find(|p| Path::new(p).exists()).map(|p| p.to_string()).unwrap_or_else(|| fallback.to_string())
}

/// Runs a command with `input` on stdin; Ok(stdout) on success, Err(stderr + status) otherwise.
fn run_with_stdin(args: &[String], input: &[u8]) -> Result<String, String> {
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", args[0]))?;
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` exited with {}: {}",
            args[1..].join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub(crate) fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy out at once.
    // Tests call this rarely; the race with other getpw* callers is accepted.
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    unsafe { Some(((*pw).pw_uid, (*pw).pw_gid)) }
}

fn lookup_user_name(uid: u32) -> Option<String> {
    // SAFETY: as in lookup_user.
    let pw = unsafe { libc::getpwuid(uid) };
    if pw.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr((*pw).pw_name) };
    Some(name.to_string_lossy().into_owned())
}

fn lookup_group_name(gid: u32) -> Option<String> {
    // SAFETY: as in lookup_user.
    let gr = unsafe { libc::getgrgid(gid) };
    if gr.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr((*gr).gr_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The time of day of a log line, in seconds, from its `YYYY-MM-DD HH:MM:SS.uuuuuu` prefix.
fn log_time(line: &str) -> Option<f64> {
    let clock = line.get(11..26)?;
    let (hms, us) = clock.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<f64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    Some(h * 3600.0 + m * 60.0 + sec + us.parse::<f64>().ok()? / 1e6)
}
