//! The desktop app in its real window, driven by WebDriver (tauri-driver with WebKitWebDriver)
//! against the test bed: Dovecot on loopback, Postfix in front of it for sending, the local
//! token server, the fault proxy, a real gnome-keyring and dunst in a private D-Bus session,
//! under Xvfb.
//!
//! Run it the way CI does:
//!
//! ```text
//! cargo build -p mailwatch -p mailwatch-cli
//! MAILWATCH_WITH_X=1 tests/testbed/with-session.sh cargo test -p mailwatch-testbed --test window
//! ```
//!
//! It needs `tauri-driver` (`cargo install tauri-driver --locked`) and WebKitWebDriver
//! (apt: webkit2gtk-driver), `xclip` for the clipboard, `dbus-monitor` for notifications, and
//! Postfix (run as root; see the test bed's README).
//! Screenshots of every view go to `tests/artifacts/window-*.png`: in English, then in
//! Simplified Chinese (`window-zh-*`), and in the dark theme (`window-dark-*`). The figures it
//! prints, APPEND to code shown (in the window, and on the Local API's stream), are the time
//! from the server accepting the message to the code arriving; they are printed, not asserted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use mailwatch_testbed::{DEFAULT_CLIENT_ID, FaultProxy, Postfix, PostfixOptions, TestBed};
use serde_json::json;

const OAUTH_USER: &str = "olivia@example.test";
const PASSWORD_USER: &str = "pat@example.test";
const PASSWORD: &str = "pat-app-password";
const STALL_USER: &str = "sam@example.test";
const CODE: &str = "739184";
/// The password of the proxy one account gets in its Edit dialog.
const PROXY_PASSWORD: &str = "pr0xy-pass";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

fn app_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("MAILWATCH_APP_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let bin = target.join("debug/mailwatch");
    assert!(bin.exists(), "no app binary at {}: build it first with `cargo build -p mailwatch`", bin.display());
    bin
}

/// The CLI, to read what the window changed through the engine on its own.
fn cli_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let bin = target.join("debug/mailwatch-cli");
    assert!(bin.exists(), "no CLI binary at {}: build it first with `cargo build -p mailwatch-cli`", bin.display());
    bin
}

fn tauri_driver() -> PathBuf {
    let candidates = [
        std::env::var_os("TAURI_DRIVER").map(PathBuf::from),
        std::env::var_os("CARGO_HOME").map(|h| PathBuf::from(h).join("bin/tauri-driver")),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver")),
        Some(PathBuf::from("tauri-driver")),
    ];
    for c in candidates.into_iter().flatten() {
        if Command::new(&c).arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok() {
            return c;
        }
    }
    panic!("tauri-driver is not installed: run `cargo install tauri-driver --locked` (bash .ci/setup.sh --test does)");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The app under WebDriver, with its driver process.
struct App {
    client: Client,
    driver: Child,
    log: PathBuf,
}

impl App {
    /// Starts the app in English (`LANG=C.UTF-8`), or with the locale and theme `env` gives.
    async fn launch(data_dir: &Path, extra_ca: &Path, work: &Path, run: usize, env: &[(&str, &str)]) -> App {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "the window tests need a display: run them under `MAILWATCH_WITH_X=1 tests/testbed/with-session.sh`"
        );
        let port = free_port();
        let native_port = free_port();
        let log = work.join(format!("driver-{run}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let driver = Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("MAILWATCH_DATA_DIR", data_dir)
            .env("MAILWATCH_EXTRA_CA", extra_ca)
            // The autostart entry (under $HOME/.config/autostart) and the window state go
            // here, not into the real home.
            .env("HOME", work.join("home"))
            .env("XDG_CONFIG_HOME", work.join("home/.config"))
            .env("RUST_LOG", "warn,mailwatch_shell=info,mailwatch_engine=info")
            // The app follows the system's language: make it known, whatever runs the test.
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("LANGUAGE")
            .env_remove("GTK_THEME")
            .env("LANG", "C.UTF-8")
            .envs(env.iter().copied())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("tauri-driver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not listen on {port}; its log:\n{}", tail(&log));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), json!({ "application": app_binary() }));
        caps.insert("browserName".into(), json!("wry"));
        // tauri-driver listens before WebKitWebDriver behind it does, so the first tries may
        // find nobody to forward to.
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => {
                    panic!("cannot start a WebDriver session: {e}; driver log:\n{}", tail(&log))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        App { client, driver, log }
    }

    async fn quit(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// The element once it exists and shows, within `secs`.
    async fn shown(&self, css: &str, secs: u64) -> Element {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && el.is_displayed().await.unwrap_or(false)
            {
                return el;
            }
            if Instant::now() > deadline {
                self.fail(&format!("{css} did not show within {secs} s")).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the element's text satisfies `ok`, returning it.
    async fn text_until(&self, css: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = String::new();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                last = el.text().await.unwrap_or_default();
                if ok(&last) {
                    return last;
                }
            }
            if Instant::now() > deadline {
                self.fail(&format!("{css} never had the expected text; last seen: {last:?}")).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element, finding it again if the view redrew it in between. It is scrolled
    /// to the middle of its scroller first (a select for an option), as a person would, so a
    /// dialog's buttons kept in view at its bottom do not cover it.
    async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let el = self.shown(css, 10).await;
            let _ = self
                .client
                .execute(
                    "const el = arguments[0]; (el.closest('select') ?? el).scrollIntoView({block: 'center'}); return true;",
                    vec![serde_json::to_value(&el).unwrap()],
                )
                .await;
            match el.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => self.fail(&format!("cannot click {css}: {e:?}")).await,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Types `text` into a field in place of what it holds. A field shown by a dialog that is
    /// still opening may not take input yet; it is tried again, as `click` does.
    async fn fill(&self, css: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let el = self.shown(css, 10).await;
            let typed = match el.clear().await {
                Ok(()) => el.send_keys(text).await,
                Err(e) => Err(e),
            };
            match typed {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => self.fail(&format!("cannot type into {css}: {e:?}")).await,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn screenshot(&self, name: &str) {
        let dir = root().join("tests/artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(dir.join(format!("window-{name}.png")), png).unwrap(),
            Err(e) => eprintln!("no screenshot {name}: {e}"),
        }
    }

    /// Fails the test with what the window showed and what the app logged.
    async fn fail(&self, what: &str) -> ! {
        self.screenshot("failure").await;
        let banner = match self.client.find(Locator::Css("#banner")).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        panic!(
            "{what}\nbanner: {banner:?}\nscreenshot: tests/artifacts/window-failure.png\napp and driver log:\n{}",
            tail(&self.log)
        );
    }

    /// Adds an account on 127.0.0.1:`port` (IMAP, implicit TLS) and, with `smtp_port`, with
    /// its SMTP server on 127.0.0.1:`smtp_port` (implicit TLS).
    async fn add_account(
        &self,
        email: &str,
        oauth: bool,
        secret: &str,
        port: u16,
        smtp_port: Option<u16>,
        token_url: &str,
    ) {
        self.click("#add-account").await;
        self.shown("#account-dialog[open]", 5).await;
        self.fill("#account-email", email).await;
        self.click(&format!("input[name=auth][value={}]", if oauth { "oauth2" } else { "password" })).await;
        self.fill("#account-secret", secret).await;
        if oauth {
            self.fill("#account-client", DEFAULT_CLIENT_ID).await;
        }
        self.click("#account-advanced summary").await;
        self.click(&format!("#account-provider option[value={}]", if oauth { "outlook" } else { "imap" })).await;
        self.fill("#account-host", "127.0.0.1").await;
        self.fill("#account-port", &port.to_string()).await;
        self.click("#account-tls option[value=implicit]").await;
        if let Some(smtp_port) = smtp_port {
            self.fill("#account-smtp-host", "127.0.0.1").await;
            self.fill("#account-smtp-port", &smtp_port.to_string()).await;
            self.click("#account-smtp-tls option[value=implicit]").await;
            self.screenshot("account-smtp").await;
        }
        if oauth {
            self.fill("#account-token-url", token_url).await;
        }
        self.click("#account-save").await;
        self.shown(&format!(".vrow[data-email=\"{email}\"]"), 15).await;
    }

    /// A form field's current value.
    async fn value(&self, css: &str) -> String {
        self.shown(css, 5).await.prop("value").await.unwrap().unwrap_or_default()
    }

    /// Evaluates `script` (which returns a JSON value) in the window.
    async fn eval(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("cannot run {script:?}: {e}"))
    }

    async fn stat(&self, counter: &str) -> u64 {
        let text = self.text_until(&format!("[data-counter={counter}] .stat-value"), 5, |_| true).await;
        text.replace(',', "").trim().parse().unwrap_or(0)
    }
}

/// WebDriver key codes: Escape, and Control held for Enter (or A) then released.
const ESCAPE: &str = "\u{E00C}";
const CTRL_ENTER: &str = "\u{E009}\u{E007}\u{E000}";
const CTRL_A: &str = "\u{E009}a\u{E000}";

/// Polls `ok` for up to 10 s, failing the test with `what` if it never holds.
async fn wait_until<F, Fut>(app: &App, what: &str, ok: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok().await {
        if Instant::now() > deadline {
            app.fail(&format!("{what}: it did not happen within 10 s")).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The X windows that show now.
fn x_windows() -> std::collections::HashSet<String> {
    let out = Command::new("xdotool").args(["search", "--onlyvisible", "--name", ""]).output().expect("xdotool runs");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// Picks `path` in the file dialog (open or save) the app opened since `before` was taken: the
/// dialog takes a typed path in its location field and Enter, as from a keyboard.
async fn pick_file(before: &std::collections::HashSet<String>, path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let window = loop {
        if let Some(new) = x_windows().difference(before).next() {
            break new.clone();
        }
        assert!(Instant::now() < deadline, "no file dialog opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The dialog draws itself after it maps.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let xdotool = |args: &[&str]| {
        let status = Command::new("xdotool").args(args).status().expect("xdotool runs");
        assert!(status.success(), "xdotool {args:?} failed");
    };
    xdotool(&["windowfocus", "--sync", &window]);
    // The location field (or a save dialog's name field), emptied.
    xdotool(&["key", "ctrl+l"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    xdotool(&["key", "ctrl+a"]);
    xdotool(&["type", "--delay", "20", &path.display().to_string()]);
    // The location field may take the first Enter for its completion: press it again while
    // the dialog stays, but never once it has gone (the key would go to the window).
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        xdotool(&["key", "Return"]);
        let deadline = Instant::now() + Duration::from_millis(1500);
        while x_windows().contains(&window) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !x_windows().contains(&window) {
            return;
        }
    }
    panic!("the file dialog did not take {}", path.display());
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

fn clipboard() -> String {
    Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn code_mail(code: &str) -> String {
    format!(
        "From: GitHub <noreply@github.com>\r\nTo: {OAUTH_USER}\r\nSubject: [GitHub] Please verify your device\r\n\
         Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <window-{code}@github.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<p>Verification code</p><p style=\"font-size:24px\"><b>{code}</b></p>\
         <p>If you did not try to sign in, <a href=\"https://github.com/settings/security\">change your password</a>.</p>\
         <img src=\"https://tracking.example/p.gif\">\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_adds_accounts_waits_for_a_code_notifies_copies_and_shows_pool_warnings() {
    mailwatch_testbed::keyring::require_secret_service();
    let bed = TestBed::start().await;
    bed.dovecot.add_user(PASSWORD_USER, PASSWORD);
    bed.dovecot.add_user(STALL_USER, PASSWORD);
    let token = bed.oauth.issue_refresh_token(OAUTH_USER, DEFAULT_CLIENT_ID);
    let proxy = FaultProxy::start(bed.dovecot.imaps_addr()).await;
    let postfix = Postfix::start(&bed.dovecot, PostfixOptions::default()).await;
    let work = tempdir();
    let data_dir = work.join("data");

    // First run: add accounts, wait for a code, look at every view, change settings.
    let app = App::launch(&data_dir, bed.dovecot.ca_pem_path(), &work, 1, &[]).await;
    app.shown("#accounts-empty", 20).await;
    app.screenshot("empty").await;
    let port = bed.dovecot.imaps_port();
    app.add_account(OAUTH_USER, true, &token, port, None, &bed.oauth.token_url()).await;
    app.add_account(PASSWORD_USER, false, PASSWORD, port, Some(postfix.submissions_port()), "").await;
    app.add_account(STALL_USER, false, PASSWORD, proxy.port(), None, "").await;
    app.screenshot("accounts").await;

    app.click("#tab-settings").await;
    let auto_copy = app.shown("#setting-app-autoCopy", 10).await;
    if !auto_copy.is_selected().await.unwrap() {
        auto_copy.click().await.unwrap();
    }
    app.click("#setting-app-launchAtLogin").await;
    app.fill("#setting-config-pool-waitTimeout", "2").await;
    app.fill("#setting-config-pool-maxPerAccount", "1").await;
    app.click("#settings-save").await;
    app.text_until("#settings-status", 10, |t| t.starts_with("Saved")).await;
    app.screenshot("settings").await;
    let autostart = std::fs::read_dir(work.join("home/.config/autostart"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .unwrap_or_default();
    assert!(
        autostart.contains("Exec=") && autostart.contains("--minimised"),
        "launch at login writes a desktop autostart entry that starts minimised; found: {autostart:?}"
    );

    let mut monitor = Command::new("dbus-monitor")
        .args(["--session", "interface='org.freedesktop.Notifications',member='Notify'"])
        .stdout(std::fs::File::create(work.join("notify.log")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor starts");

    app.click("#tab-accounts").await;
    app.click(&format!(".vrow[data-email=\"{OAUTH_USER}\"] [data-action=wait]")).await;
    app.shown("#wait-dialog[open] #wait-countdown", 5).await;
    // The wait counts only mail that arrives after its baseline; the baseline is taken on
    // the account's first session, so deliver once the account has logged in.
    let deadline = Instant::now() + Duration::from_secs(20);
    while bed.dovecot.logins_for(OAUTH_USER) == 0 {
        if Instant::now() > deadline {
            app.fail(&format!("{OAUTH_USER} never logged in to Dovecot:\n{}", bed.dovecot.log_tail(20))).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.screenshot("waiting").await;
    bed.dovecot.append(OAUTH_USER, "INBOX", code_mail(CODE).as_bytes()).await;
    let appended = Instant::now();
    let shown = app.text_until("#wait-code", 20, |t| t.trim() == CODE).await;
    let elapsed = appended.elapsed();
    println!(
        "figure: APPEND to code shown in the window: {} ms (Dovecot holds IDLE notices ~500 ms)",
        elapsed.as_millis()
    );
    assert_eq!(shown.trim(), CODE);
    app.screenshot("code").await;

    // Auto-copy put it on the clipboard, and a notification with the code went out.
    let deadline = Instant::now() + Duration::from_secs(10);
    while clipboard().trim() != CODE && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(clipboard().trim(), CODE, "auto-copy should put the code on the clipboard");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !seen.contains(CODE) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = std::fs::read_to_string(work.join("notify.log")).unwrap_or_default();
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    assert!(seen.contains(CODE), "a notification with the code should be sent; dbus-monitor saw:\n{seen}");
    assert!(seen.contains("GitHub"), "the notification names the service; dbus-monitor saw:\n{seen}");

    app.click("#wait-cancel").await;
    app.click("#tab-codes").await;
    app.text_until("#codes-rows", 10, |t| t.contains(CODE) && t.contains(OAUTH_USER)).await;
    app.screenshot("codes").await;

    // Forward opens Compose from the code's account, with the code in the text and the
    // cursor in To; Escape closes it.
    app.click("#codes-rows [data-forward=\"0\"]").await;
    app.shown("#compose-dialog[open]", 5).await;
    assert_eq!(app.value("#compose-from").await, OAUTH_USER, "a code is forwarded from the account it arrived in");
    assert_eq!(app.value("#compose-subject").await, "Fwd: [GitHub] Please verify your device");
    assert!(app.value("#compose-text").await.contains(CODE), "the forwarded text carries the code");
    assert_eq!(app.eval("return document.activeElement.id").await, json!("compose-to"), "To is empty and focused");
    app.screenshot("forward").await;
    app.shown("#compose-to", 5).await.send_keys(ESCAPE).await.unwrap();
    wait_until(&app, "Escape closes the compose dialog", || async {
        app.eval("return document.getElementById('compose-dialog').open").await == json!(false)
    })
    .await;

    // An account with no SMTP server cannot send, and the dialog says what to change,
    // keeping what was written.
    app.click("#tab-accounts").await;
    app.click(&format!(".vrow[data-email=\"{STALL_USER}\"] [data-action=compose]")).await;
    app.shown("#compose-dialog[open]", 5).await;
    app.fill("#compose-to", PASSWORD_USER).await;
    app.fill("#compose-text", "kept").await;
    app.click("#compose-send").await;
    let refused = app.text_until("#compose-error", 15, |t| !t.is_empty()).await;
    assert!(refused.contains("SMTP host"), "no_smtp_server says to edit the account's SMTP server: {refused}");
    assert_eq!(app.value("#compose-text").await, "kept", "a failed send keeps the text");
    app.screenshot("compose-refused").await;
    app.click("#compose-cancel").await;

    // Compose from the password account's row; Ctrl+Enter sends it through Postfix, which
    // delivers it to Dovecot.
    let sent_code = "582046";
    app.click(&format!(".vrow[data-email=\"{PASSWORD_USER}\"] [data-action=compose]")).await;
    app.shown("#compose-dialog[open]", 5).await;
    assert_eq!(app.value("#compose-from").await, PASSWORD_USER);
    app.fill("#compose-to", STALL_USER).await;
    app.fill("#compose-subject", "Your verification code").await;
    app.fill("#compose-text", &format!("Your verification code is {sent_code}.")).await;
    app.screenshot("compose").await;
    app.shown("#compose-text", 5).await.send_keys(CTRL_ENTER).await.unwrap();
    let toast = app.text_until("#toasts", 30, |t| t.starts_with("Sent to")).await;
    assert_eq!(toast, format!("Sent to {STALL_USER}"));
    assert_eq!(
        app.eval("return document.getElementById('compose-dialog').open").await,
        json!(false),
        "the dialog closes once the message is sent"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while bed.dovecot.deliveries_for(STALL_USER) == 0 {
        if Instant::now() > deadline {
            app.fail(&format!("the message never reached {STALL_USER}'s inbox:\n{}", postfix.diagnostics())).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    app.click("#tab-messages").await;
    app.click(&format!("#messages-account option[value=\"{OAUTH_USER}\"]")).await;
    app.click("#messages-load").await;
    app.click("#messages-rows tr td:nth-child(2)").await;
    app.shown("#message-dialog[open] #message-frame", 10).await;
    app.text_until("#message-images", 5, |t| t.contains("Remote images are blocked")).await;
    let body = app
        .client
        .execute("return document.getElementById('message-frame').contentDocument?.body?.innerText ?? null", vec![])
        .await
        .unwrap();
    eprintln!("message frame body: {body}");
    assert!(body.as_str().is_some_and(|b| b.contains(CODE)), "the message shows in the viewer: {body}");
    let size = app
        .client
        .execute(
            "const d = document.getElementById('message-frame').contentDocument;
             return getComputedStyle(d.querySelector('p[style]')).fontSize;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(size.as_str(), Some("24px"), "the message keeps its own inline styles in the viewer");
    app.screenshot("message").await;
    app.click("#message-dialog [data-close]").await;

    // The message sent from Compose went the whole way: Postfix, Dovecot, and Mailwatch
    // finds its code.
    app.click(&format!("#messages-account option[value=\"{STALL_USER}\"]")).await;
    app.click("#messages-load").await;
    app.text_until("#messages-rows", 15, |t| t.contains(sent_code) && t.contains("Your verification code")).await;

    app.click("#tab-pool").await;
    app.shown("#view-pool", 5).await;
    let created = app.stat("total_created").await;
    assert!(created > 0, "the pool panel should count created sessions");
    assert_eq!(app.stat("smtp_messages_sent").await, 1, "the pool panel counts the message sent");
    assert_eq!(app.stat("smtp_connections_created").await, 1, "one SMTP login sent it");
    let budget = app.stat("idleBudget").await;
    assert!(budget > 0, "the pool panel says how many watched accounts may idle, read from the engine: {budget}");
    app.screenshot("pool").await;
    local_api(&app, &bed).await;
    app.quit().await;

    // Second run: the settings survived, and a forced wait timeout shows the warning.
    let app = App::launch(&data_dir, bed.dovecot.ca_pem_path(), &work, 2, &[]).await;
    app.shown(&format!(".vrow[data-email=\"{OAUTH_USER}\"]"), 20).await;
    app.click("#tab-settings").await;
    let wait_timeout = app.shown("#setting-config-pool-waitTimeout", 10).await;
    assert_eq!(wait_timeout.prop("value").await.unwrap().as_deref(), Some("2"), "the wait timeout survives a restart");
    let auto_copy = app.shown("#setting-app-autoCopy", 10).await;
    assert!(auto_copy.is_selected().await.unwrap(), "auto-copy survives a restart");
    let at_login = app.shown("#setting-app-launchAtLogin", 10).await;
    assert!(at_login.is_selected().await.unwrap(), "launch at login survives a restart");

    // The proxy accepts the connection and then says nothing, so the first request holds the
    // account's only connection while it tries to log in, and the second gives up after 2 s.
    proxy.set_stall(true);
    app.click("#tab-pool").await;
    app.client
        .execute(
            "const invoke = window.__TAURI__.core.invoke;
             for (let i = 0; i < 2; i++) invoke('list_messages', {email: arguments[0], folder: 'inbox', top: 5}).catch(() => {});
             return true;",
            vec![json!(STALL_USER)],
        )
        .await
        .unwrap();
    let advice = app.text_until("#pool-advice", 30, |t| t.contains("gave up waiting")).await;
    assert!(advice.contains("Connections per account"), "the warning says what to change: {advice}");
    assert!(app.stat("wait_timeouts").await >= 1);
    app.screenshot("pool-warning").await;
    app.quit().await;
    proxy.set_stall(false);

    chinese_and_dark(&bed, &data_dir, &work).await;
}

/// The app in Simplified Chinese, from the system's locale: the accounts, a wait that receives
/// a code, the notification's text on D-Bus, every view and the dialogs, with screenshots;
/// then English chosen in Settings applies at once and wins over the system's language at
/// the next start, which is also the dark-mode pass.
async fn chinese_and_dark(bed: &TestBed, data_dir: &Path, work: &Path) {
    const ZH_CODE: &str = "481527";
    let logins = bed.dovecot.logins_for(OAUTH_USER);
    let app = App::launch(data_dir, bed.dovecot.ca_pem_path(), work, 3, &[("LANG", "zh_CN.UTF-8")]).await;
    app.text_until("#tab-accounts", 20, |t| t.trim() == "账户").await;
    app.shown(&format!(".vrow[data-email=\"{OAUTH_USER}\"]"), 20).await;
    assert_eq!(app.eval("return document.documentElement.lang").await, json!("zh-CN"), "the page says its language");
    let count = app.text_until("#account-count", 5, |t| !t.is_empty()).await;
    assert_eq!(count, "3 个账户", "counts are in Chinese");
    app.screenshot("zh-accounts").await;

    let mut monitor = Command::new("dbus-monitor")
        .args(["--session", "interface='org.freedesktop.Notifications',member='Notify'"])
        .stdout(std::fs::File::create(work.join("notify-zh.log")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor starts");
    app.click(&format!(".vrow[data-email=\"{OAUTH_USER}\"] [data-action=wait]")).await;
    app.shown("#wait-dialog[open] #wait-countdown", 5).await;
    assert_eq!(app.text_until("#wait-title", 5, |t| !t.is_empty()).await, "正在等待验证码");
    let deadline = Instant::now() + Duration::from_secs(20);
    while bed.dovecot.logins_for(OAUTH_USER) == logins {
        if Instant::now() > deadline {
            app.fail(&format!("{OAUTH_USER} never logged in again:\n{}", bed.dovecot.log_tail(20))).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.screenshot("zh-waiting").await;
    bed.dovecot.append(OAUTH_USER, "INBOX", code_mail(ZH_CODE).as_bytes()).await;
    app.text_until("#wait-code", 20, |t| t.trim() == ZH_CODE).await;
    assert_eq!(app.text_until("#wait-title", 5, |t| !t.is_empty()).await, "已收到验证码");
    app.screenshot("zh-code").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !seen.contains(ZH_CODE) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = std::fs::read_to_string(work.join("notify-zh.log")).unwrap_or_default();
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    assert!(
        seen.contains(&format!("GitHub 验证码 {ZH_CODE}")) && seen.contains(&format!("账户：{OAUTH_USER}")),
        "the notification speaks Chinese, with the service, the code and the account; dbus-monitor saw:\n{seen}"
    );
    assert!(seen.contains("复制"), "its Copy action too; dbus-monitor saw:\n{seen}");
    app.click("#wait-cancel").await;

    app.click("#tab-codes").await;
    app.text_until("#codes-rows", 10, |t| t.contains(ZH_CODE) && t.contains("转发")).await;
    app.screenshot("zh-codes").await;
    app.click("#tab-messages").await;
    app.click(&format!("#messages-account option[value=\"{OAUTH_USER}\"]")).await;
    app.click("#messages-load").await;
    app.text_until("#messages-status", 15, |t| t.contains("封邮件")).await;
    app.screenshot("zh-messages").await;
    app.click("#tab-pool").await;
    app.text_until("[data-counter=total_created] .stat-label", 5, |t| t == "新建会话").await;
    app.screenshot("zh-pool").await;

    // Settings: units, what needs a restart, and a value out of range refused beside its field.
    app.click("#tab-settings").await;
    app.text_until("label[for=setting-config-pool-maxTotal]", 10, |t| t == "总连接数").await;
    app.fill("#setting-config-pool-maxTotal", "0").await;
    let refused = app.text_until("#setting-config-pool-maxTotal-error", 5, |t| !t.is_empty()).await;
    assert_eq!(refused, "“总连接数”必须在 1 到 10,000 个连接之间。");
    app.click("#settings-save").await;
    app.text_until("#settings-status", 5, |t| t.contains("超出范围")).await;
    app.screenshot("zh-settings").await;
    app.fill("#setting-config-pool-maxTotal", "50").await;

    // The dialogs: the add dialog with its server settings open keeps its buttons in view and
    // masks the secret; the status details; the keys.
    app.click("#add-account").await;
    app.click("#account-advanced summary").await;
    app.fill("#account-secret", "a-secret-nobody-may-see").await;
    let layout = app
        .eval(
            "const b = document.getElementById('account-save').getBoundingClientRect();
             const s = getComputedStyle(document.getElementById('account-secret'));
             return [b.bottom <= innerHeight, s.webkitTextSecurity];",
        )
        .await;
    assert_eq!(layout, json!([true, "disc"]), "Save stays in view and the secret is masked (in view, masking)");
    app.screenshot("zh-add").await;
    app.shown("#account-secret", 5).await.send_keys(ESCAPE).await.unwrap();
    app.click("#tab-accounts").await;
    app.click(&format!(".vrow[data-email=\"{OAUTH_USER}\"] [data-action=status]")).await;
    app.text_until("#status-advice", 5, |t| t.contains("一切正常")).await;
    app.screenshot("zh-status").await;
    app.shown("#status-dialog[open] button[type=submit]", 5).await.click().await.unwrap();
    app.shown("#accounts-list", 5).await.send_keys("?").await.unwrap();
    app.text_until("#keys-list", 5, |t| t.contains("等待验证码")).await;
    app.screenshot("zh-keys").await;
    app.shown("#keys-close", 5).await.send_keys(ESCAPE).await.unwrap();

    // Several accounts at once: Ctrl+A selects every row shown, the bar says how many, and
    // its buttons act on each of them.
    app.shown("#accounts-list", 5).await.send_keys(CTRL_A).await.unwrap();
    app.text_until("#selection-count", 5, |t| t == "已选择 3 个").await;
    app.click("#selection-bar [data-bulk=watch]").await;
    app.text_until("#accounts-spacer", 10, |t| t.matches("停止监视").count() == 3).await;
    app.screenshot("zh-selection").await;
    app.click("#selection-bar [data-bulk=unwatch]").await;
    app.text_until("#accounts-spacer", 10, |t| !t.contains("停止监视")).await;
    // Tags for the selection: one added to each account.
    app.click("#selection-bar [data-bulk=tags]").await;
    app.shown("#prompt-dialog[open]", 5).await;
    app.fill("#prompt-input", "批量").await;
    app.click("#prompt-ok").await;
    for email in [OAUTH_USER, PASSWORD_USER, STALL_USER] {
        labels_until(&app, email, |l| l == "#批量").await;
    }
    // Refreshing the selection's tokens renews the OAuth2 account's and reports the password
    // accounts as failed; exporting it writes the three addresses and no secret.
    app.click("#selection-bar [data-bulk=refresh]").await;
    app.text_until("#toasts", 20, |t| t.contains("令牌已刷新：成功 1 个，失败 2 个")).await;
    let export = work.join("export.csv");
    let before = x_windows();
    app.click("#selection-bar [data-bulk=export]").await;
    pick_file(&before, &export).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !export.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exported = std::fs::read_to_string(&export).unwrap_or_default();
    for email in [OAUTH_USER, PASSWORD_USER, STALL_USER] {
        assert!(exported.contains(email), "the export lists {email}:\n{exported}");
    }
    assert!(!exported.contains(PASSWORD), "the export carries no secret:\n{exported}");
    app.click("#selection-bar [data-bulk=clear]").await;
    assert_eq!(app.eval("return document.getElementById('selection-bar').hidden").await, json!(true));

    // The import dialog, from a file picked in the system's file dialog (typed into it, as a
    // keyboard user would): its preview counts and a line-numbered error, in Chinese.
    let file = work.join("accounts.txt");
    std::fs::write(&file, "nina@example.test----pw-nina----127.0.0.1----993\nnot an account line\nomar@example.test----pw-omar----127.0.0.1----993\n").unwrap();
    let before = x_windows();
    app.click("#import").await;
    pick_file(&before, &file).await;
    app.text_until("#import-preview", 15, |t| t.contains("第 2 行")).await;
    app.text_until("#import-run", 5, |t| t == "导入 2 个账户").await;
    app.screenshot("zh-import").await;
    app.click("#import-close").await;

    // English chosen in Settings applies at once, tray and window, without a restart.
    app.click("#tab-settings").await;
    app.click("#setting-app-language option[value=en]").await;
    app.click("#settings-save").await;
    app.text_until("#tab-accounts", 10, |t| t.trim() == "Accounts").await;
    app.text_until("label[for=setting-config-pool-maxTotal]", 5, |t| t == "Connections overall").await;
    app.screenshot("en-settings").await;
    app.click("#tab-accounts").await;
    app.shown("#accounts-list", 5).await.send_keys("?").await.unwrap();
    app.text_until("#keys-list", 5, |t| t.contains("Wait for a code")).await;
    app.screenshot("en-keys").await;
    app.shown("#keys-close", 5).await.send_keys(ESCAPE).await.unwrap();
    app.click("#add-account").await;
    app.click("#account-advanced summary").await;
    app.screenshot("en-add").await;
    app.shown("#account-email", 5).await.send_keys(ESCAPE).await.unwrap();

    // Traditional Chinese the same way, then English again for the next run.
    app.click("#tab-settings").await;
    app.click("#setting-app-language option[value=zh-TW]").await;
    app.click("#settings-save").await;
    app.text_until("#tab-accounts", 10, |t| t.trim() == "帳號").await;
    app.text_until("#settings-status", 5, |t| t.starts_with("已儲存")).await;
    app.screenshot("zh-TW-settings").await;
    app.click("#tab-accounts").await;
    app.text_until("#account-count", 5, |t| t == "3 個帳號").await;
    app.screenshot("zh-TW-accounts").await;
    app.click("#tab-settings").await;
    app.click("#setting-app-language option[value=en]").await;
    app.click("#settings-save").await;
    app.text_until("#tab-accounts", 10, |t| t.trim() == "Accounts").await;
    app.quit().await;

    // The choice is stored and wins over the system's Chinese; and the dark theme.
    let app = App::launch(
        data_dir,
        bed.dovecot.ca_pem_path(),
        work,
        4,
        &[("LANG", "zh_CN.UTF-8"), ("GTK_THEME", "Adwaita:dark")],
    )
    .await;
    app.shown(&format!(".vrow[data-email=\"{OAUTH_USER}\"]"), 20).await;
    app.text_until("#tab-accounts", 10, |t| t.trim() == "Accounts").await;
    let dark = app.eval("return matchMedia('(prefers-color-scheme: dark)').matches").await;
    assert_eq!(dark, json!(true), "GTK_THEME=Adwaita:dark gives the page the dark scheme");
    app.screenshot("dark-accounts").await;
    app.click("#tab-settings").await;
    app.shown("#setting-app-language", 10).await;
    app.screenshot("dark-settings").await;
    app.click("#tab-pool").await;
    app.screenshot("dark-pool").await;
    app.click("#tab-accounts").await;
    app.click(&format!(".vrow[data-email=\"{OAUTH_USER}\"] [data-action=edit]")).await;
    app.shown("#account-dialog[open]", 5).await;
    app.screenshot("dark-edit").await;
    app.shown("#account-email", 5).await.send_keys(ESCAPE).await.unwrap();
    edit_labels(&app).await;
    let before = x_windows();
    app.click("#import").await;
    pick_file(&before, &work.join("accounts.txt")).await;
    app.text_until("#import-preview", 15, |t| t.contains("line 2")).await;
    app.text_until("#import-run", 5, |t| t == "Import 2 accounts").await;
    app.screenshot("dark-import").await;
    app.quit().await;
    labels_in_engine(data_dir);
}

/// One account's group, tags and own proxy through its Edit dialog: the row's labels show
/// them, the dialog shows the proxy without its password and says the keyring keeps one,
/// and none of it shows the proxy's password.
async fn edit_labels(app: &App) {
    let row = format!(".vrow[data-email=\"{PASSWORD_USER}\"]");
    let open = async || {
        app.click(&format!("{row} [data-action=edit]")).await;
        app.shown("#account-dialog[open]", 5).await;
    };
    open().await;
    assert_eq!(app.value("#account-tags").await, "批量", "the dialog shows the tags the selection gave");
    app.fill("#account-group-name", "shop").await;
    app.fill("#account-tags", "vip, #eu").await;
    app.fill("#account-proxy", &format!("socks5://bob:{PROXY_PASSWORD}@127.0.0.1:1080")).await;
    app.click("#account-save").await;
    labels_until(app, PASSWORD_USER, |l| l == "shop #eu #vip ⇄").await;

    open().await;
    let proxy = app.value("#account-proxy").await;
    assert_eq!(proxy, "socks5h://bob@127.0.0.1:1080", "the stored proxy shows, without its password");
    wait_until(app, "the dialog says the keyring keeps the proxy's password", || async {
        app.eval("return !document.getElementById('account-proxy-kept').hidden").await == json!(true)
    })
    .await;
    let leaked = app
        .eval(&format!(
            "return document.documentElement.outerHTML.includes('{PROXY_PASSWORD}') || [...document.querySelectorAll('input, textarea')].some((e) => e.value.includes('{PROXY_PASSWORD}'))"
        ))
        .await;
    assert_eq!(leaked, json!(false), "the proxy's password is nowhere in the window");
    app.screenshot("dark-edit-labels").await;
    app.fill("#account-tags", "vip").await;
    app.click("#account-save").await;
    labels_until(app, PASSWORD_USER, |l| l == "shop #vip ⇄").await;
}

/// The labels (group, #tags, proxy mark) the account's row shows ("" when none) once `ok`
/// holds for them, within 10 s; fails the test with what it last saw otherwise.
async fn labels_until(app: &App, email: &str, ok: impl Fn(&str) -> bool) -> String {
    let script = format!(
        "const l = document.querySelector('.vrow[data-email=\"{email}\"] .labels'); return l ? l.textContent : '';"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = app.eval(&script).await.as_str().unwrap_or_default().to_string();
        if ok(&seen) {
            return seen;
        }
        if Instant::now() > deadline {
            app.fail(&format!("the labels of {email} never became what was expected; last seen: {seen:?}")).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What [`edit_labels`] gave the account, as the CLI (the engine on its own, over the same
/// cache, once the app has quit) finds it: by its group and tag, with the proxy's URL and no
/// password.
fn labels_in_engine(data_dir: &Path) {
    let out = Command::new(cli_binary())
        .args(["--direct", "accounts", "list", "--group", "shop", "--tag", "vip", "--json"])
        .env("MAILWATCH_DATA_DIR", data_dir)
        .output()
        .expect("the CLI runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "accounts list failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains(PROXY_PASSWORD), "the CLI shows no proxy password: {text}");
    let listed: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let found: Vec<_> =
        listed.as_array().into_iter().flatten().map(|a| (&a["email"], &a["group"], &a["tags"], &a["proxy"])).collect();
    assert_eq!(
        found,
        vec![(&json!(PASSWORD_USER), &json!("shop"), &json!(["vip"]), &json!("socks5h://bob@127.0.0.1:1080"))],
        "the engine has the group, tags and proxy the dialog gave: {text}"
    );
}

/// The Local API switched on in Settings: a taken port is refused in words; on a free port
/// a real HTTP client and a real WebSocket client use the key read from the window, the
/// stream carries a code the app found, a renewed key locks the old one out, and switching
/// off closes the stream and the port.
async fn local_api(app: &App, bed: &TestBed) {
    const API_CODE: &str = "604213";
    app.click("#tab-settings").await;
    app.shown("#setting-config-api-listen", 10).await;
    assert_eq!(app.value("#setting-config-api-listen").await, "127.0.0.1:7878", "api.listen's default shows");
    let switch_on = async |address: &str| {
        app.fill("#setting-config-api-listen", address).await;
        app.click("#settings-save").await;
        app.text_until("#settings-status", 10, |t| t.starts_with("Saved")).await;
        app.click("#local-api-on").await;
    };

    // Another program holds the port: a sentence that names the address, and the switch stays off.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    switch_on(&taken_addr).await;
    let refused = app.text_until("#local-api-status", 15, |t| t.contains("already uses")).await;
    assert_eq!(
        refused,
        format!(
            "Another program already uses {taken_addr}. Choose another address for the local API, save, and turn it on again."
        )
    );
    assert_eq!(app.eval("return document.getElementById('local-api-on').checked").await, json!(false));
    app.screenshot("local-api-refused").await;
    drop(taken);

    let port = free_port();
    switch_on(&format!("127.0.0.1:{port}")).await;
    let base = app.text_until("#local-api-address", 15, |t| !t.is_empty()).await;
    assert_eq!(base, format!("http://127.0.0.1:{port}"), "the window shows where the API listens");
    let masked = app.text_until("#local-api-key", 5, |t| !t.is_empty()).await;
    assert!(
        masked.starts_with("mwk_") && masked.trim_start_matches("mwk_").chars().all(|c| c == '•'),
        "the key shows masked until Show"
    );
    app.screenshot("local-api").await;
    let read_key = async || {
        app.click("#local-api-show").await;
        let key = app.text_until("#local-api-key", 5, |t| !t.contains('•')).await;
        app.click("#local-api-show").await;
        assert!(key.starts_with("mwk_") && key.len() > 40, "Show reveals a whole key ({} characters)", key.len());
        key
    };
    let key = read_key().await;
    app.click("#local-api-copy").await;
    app.text_until("#local-api-status", 5, |t| t == "The key is on the clipboard.").await;
    assert!(clipboard().trim() == key, "Copy puts the key on the clipboard");

    // A real HTTP client: the accounts the app holds.
    let http = reqwest::Client::new();
    let accounts = |key: String| {
        let request = http.get(format!("{base}/api/v1/accounts")).bearer_auth(key);
        async move { request.send().await.expect("the API answers") }
    };
    let answer = accounts(key.clone()).await;
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    let emails: Vec<&str> =
        body["accounts"].as_array().map_or(vec![], |a| a.iter().filter_map(|x| x["email"].as_str()).collect());
    assert_eq!(body["total"], json!(3), "the app's three accounts: {emails:?}");
    assert!(emails.contains(&OAUTH_USER), "{emails:?}");

    // A real WebSocket client: the code of a message appended now arrives on the stream.
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://127.0.0.1:{port}/api/v1/stream").into_client_request().unwrap();
    request.headers_mut().insert("Authorization", format!("Bearer {key}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("the stream opens with the app's key");
    let mut seen = Vec::new();
    let mut next_of_type = async |ws: &mut tokio_tungstenite::WebSocketStream<_>, kind: &str| -> serde_json::Value {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(text) = msg {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    seen.push(v["type"].as_str().unwrap_or("").to_string());
                    if v["type"] == kind {
                        return Some(v);
                    }
                }
            }
            None
        })
        .await;
        found.ok().flatten().unwrap_or_else(|| panic!("no {kind} message on the stream; types seen: {seen:?}"))
    };
    next_of_type(&mut ws, "ready").await;
    ws.send(Message::Text(
        json!({"type": "subscribe", "accounts": [OAUTH_USER], "kinds": ["code"]}).to_string().into(),
    ))
    .await
    .unwrap();
    next_of_type(&mut ws, "subscribed").await;
    bed.dovecot.append(OAUTH_USER, "INBOX", code_mail(API_CODE).as_bytes()).await;
    let appended = Instant::now();
    let event = next_of_type(&mut ws, "code").await;
    println!("figure: APPEND to code on the app's API stream: {} ms", appended.elapsed().as_millis());
    assert_eq!((event["email"].as_str(), event["code"].as_str()), (Some(OAUTH_USER), Some(API_CODE)), "{event}");

    // Renew: the old key is refused (within a second, as revoked keys are), the new one works.
    app.click("#local-api-renew").await;
    app.click("#confirm-ok").await;
    app.text_until("#local-api-status", 10, |t| t.starts_with("A new key is in force")).await;
    let renewed = read_key().await;
    assert!(renewed != key, "Renew makes a different key");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut status = accounts(key.clone()).await.status();
    while status != 401 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = accounts(key.clone()).await.status();
    }
    assert_eq!(status, 401, "the renewed key's predecessor is refused");
    assert_eq!(accounts(renewed).await.status(), 200, "the new key works");

    // Off: the open stream gets a close frame, and nothing listens any more.
    app.click("#local-api-on").await;
    app.text_until("#local-api-status", 15, |t| t == "The local API is off.").await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return Some(frame),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await;
    assert!(matches!(closed, Ok(Some(_))), "turning the API off sends the stream a close frame: {closed:?}");
    let refused = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.kind());
    assert_eq!(refused.err(), Some(std::io::ErrorKind::ConnectionRefused), "nothing listens once the API is off");
    assert_eq!(app.eval("return document.getElementById('local-api-details').hidden").await, json!(true));
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailwatch-window-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
