//! What every engine test needs: a test bed, an engine pointed at it, and accounts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailwatch_engine::Engine;
use mailwatch_engine::account::{AccountSpec, Provider, Tls};
use mailwatch_engine::config::Config;
use mailwatch_engine::engine::{EngineOptions, NewSecret};
use mailwatch_engine::events::{Event, EventSink};
use mailwatch_engine::secrets::{KeyringSecrets, Secret, SecretStore};
use mailwatch_testbed::{DEFAULT_CLIENT_ID, DovecotOptions, TestBed};

/// Records every event the engine emits.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn emit(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    pub fn codes(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::CodeFound { code, .. } => code.clone(),
                _ => None,
            })
            .collect()
    }
}

pub struct Harness {
    pub bed: TestBed,
    pub engine: Engine,
    pub events: Arc<Recorder>,
    pub dir: tempfile::TempDir,
}

/// Limits that keep failing tests short.
pub fn test_config() -> Config {
    let mut c = Config::default();
    c.pool.wait_timeout = Duration::from_secs(10);
    c.pool.connect_timeout = Duration::from_secs(10);
    c.pool.command_timeout = Duration::from_secs(10);
    c.cache.poll_interval = Duration::from_millis(200);
    c
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with_config(test_config()).await
    }

    pub async fn with_config(config: Config) -> Harness {
        Harness::with_secrets(config, None).await
    }

    /// `secrets`: a stand-in store for what the real keyring cannot be made to do on cue;
    /// `None` is the real Secret Service.
    pub async fn with_secrets(config: Config, secrets: Option<Arc<dyn SecretStore>>) -> Harness {
        Harness::with_bed(config, secrets, TestBed::start().await).await
    }

    /// With a Dovecot started with `dovecot` (NOTIFY off, say).
    pub async fn with_dovecot(
        config: Config,
        secrets: Option<Arc<dyn SecretStore>>,
        dovecot: DovecotOptions,
    ) -> Harness {
        Harness::with_bed(config, secrets, TestBed::start_with(dovecot).await).await
    }

    /// Over a test bed started by the caller (a Dovecot with options of its own).
    pub async fn with_bed(config: Config, secrets: Option<Arc<dyn SecretStore>>, bed: TestBed) -> Harness {
        let secrets = secrets.unwrap_or_else(|| {
            mailwatch_testbed::keyring::require_secret_service();
            Arc::new(KeyringSecrets::default())
        });
        let dir = tempfile::tempdir().expect("a temp dir for the data dir");
        let events = Arc::new(Recorder::default());
        let options = EngineOptions {
            data_dir: Some(dir.path().to_path_buf()),
            extra_ca: Some(bed.dovecot.ca_pem_path().to_path_buf()),
            config: Some(config),
            secrets: Some(secrets.clone()),
            ..Default::default()
        };
        let engine = Engine::open(options, events.clone()).await.expect("the engine opens on a fresh data dir");
        Harness { bed, engine, events, dir }
    }

    /// The engine's cache file opened a second time, as another process would: for writing
    /// what the engine's API does not let a caller write (a hand-edited account, an old
    /// refresh date).
    pub fn cache_file(&self) -> mailwatch_engine::store::Store {
        mailwatch_engine::store::Store::open(&self.dir.path().join("mailwatch.db")).expect("the cache opens twice")
    }

    /// A password account on the implicit-TLS port (or `port` if given, e.g. a proxy's).
    pub async fn password_account(&self, email: &str, password: &str, port: Option<u16>) -> String {
        self.bed.dovecot.add_user(email, password);
        let spec = AccountSpec {
            email: email.into(),
            provider: Some(Provider::Imap),
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(port.unwrap_or(self.bed.dovecot.imaps_port())),
            tls: Some(Tls::Implicit),
            ..Default::default()
        };
        // The CA's certificate names localhost and 127.0.0.1.
        self.engine
            .add_account(&spec, NewSecret::Password(Secret::new(password)))
            .await
            .expect("the password account is added")
            .email
    }

    /// An Outlook-style account: OAuth2 through the local token server, XOAUTH2 to Dovecot.
    /// Returns the refresh token issued.
    pub async fn oauth_account(&self, email: &str, port: Option<u16>) -> String {
        let token = self.bed.oauth.issue_refresh_token(email, DEFAULT_CLIENT_ID);
        let spec = AccountSpec {
            email: email.into(),
            provider: Some(Provider::Outlook),
            client_id: Some(DEFAULT_CLIENT_ID.into()),
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(port.unwrap_or(self.bed.dovecot.imaps_port())),
            tls: Some(Tls::Implicit),
            token_url: Some(self.bed.oauth.token_url()),
            ..Default::default()
        };
        self.engine
            .add_account(&spec, NewSecret::RefreshToken(Secret::new(token.clone())))
            .await
            .expect("the OAuth2 account is added");
        token
    }

    /// An Outlook account as [`Harness::oauth_account`], with Graph pointed at `graph_url`
    /// and the refresh token granted `scopes` only (all when `None`), on `channel`.
    pub async fn outlook_account(
        &self,
        email: &str,
        graph_url: &str,
        scopes: Option<&[&str]>,
        channel: Option<mailwatch_engine::account::Channel>,
        scope: Option<&str>,
    ) -> String {
        let token = match scopes {
            None => self.bed.oauth.issue_refresh_token(email, DEFAULT_CLIENT_ID),
            Some(s) => self.bed.oauth.issue_refresh_token_with_scopes(email, DEFAULT_CLIENT_ID, s),
        };
        let spec = AccountSpec {
            email: email.into(),
            provider: Some(Provider::Outlook),
            client_id: Some(DEFAULT_CLIENT_ID.into()),
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(self.bed.dovecot.imaps_port()),
            tls: Some(Tls::Implicit),
            token_url: Some(self.bed.oauth.token_url()),
            graph_url: Some(graph_url.into()),
            channel,
            scope: scope.map(str::to_string),
            ..Default::default()
        };
        self.engine
            .add_account(&spec, NewSecret::RefreshToken(Secret::new(token.clone())))
            .await
            .expect("the Outlook account is added");
        token
    }

    pub async fn deliver(&self, user: &str, folder: &str, subject: &str, body: &str) {
        self.bed.dovecot.append(user, folder, message(subject, body).as_bytes()).await;
    }
}

/// A small verification mail.
pub fn message(subject: &str, body: &str) -> String {
    format!(
        "From: Example Service <no-reply@service.example>\r\nTo: user@example.com\r\nSubject: {subject}\r\n\
         Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{}@service.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        subject.len() * 7919 + body.len()
    )
}

pub fn code_mail(code: &str) -> (String, String) {
    ("Your verification code".into(), format!("Your verification code is {code}. It expires in 10 minutes."))
}
