//! Desktop notifications through the freedesktop notification server (notify-rust).
//!
//! Showing a notification and waiting for its action both block on D-Bus, so each runs on a
//! thread of its own, never on the async runtime. With no notification server the app keeps
//! working: the first failure is reported once (to the log and the window), later ones only
//! to the log at debug level. A notification that waits for its "Copy" action holds its
//! thread until the user picks or dismisses it, so at most [`MAX_WAITING`] wait at once;
//! beyond that a notification goes without the action rather than park another thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use notify_rust::Notification;
use tauri::{AppHandle, Emitter};

/// The event the window gets, once, when notifications cannot be shown.
pub const UNAVAILABLE_EVENT: &str = "mailwatch://notifications-unavailable";

const APP_NAME: &str = "Mailwatch";
const COPY_ACTION: &str = "copy";

/// Most notifications waiting for their action at once, each on a thread of its own.
pub const MAX_WAITING: usize = 8;

/// Sends notifications and remembers whether the server was missing.
#[derive(Debug, Default)]
pub struct Notifier {
    reported: AtomicBool,
    waiting: ActionSlots,
}

/// A count of the threads waiting for an action, capped.
#[derive(Debug, Default)]
struct ActionSlots(AtomicUsize);

/// A waiting thread's place; gives it back when dropped, however the wait ends.
struct ActionSlot<'a>(&'a AtomicUsize);

impl ActionSlots {
    const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// A place for one more waiting thread, or `None` when `max` already wait.
    fn take(&self, max: usize) -> Option<ActionSlot<'_>> {
        self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(ActionSlot(&self.0))
    }
}

impl Drop for ActionSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The app's one notifier.
pub static NOTIFIER: Notifier = Notifier::new();

/// What a code notification says.
#[derive(Debug, Clone)]
pub struct CodeNotice {
    /// The account the code arrived in.
    pub email: String,
    /// The code, if the message had one.
    pub code: Option<String>,
    /// The service that sent it.
    pub service: Option<String>,
    /// The verification link, when there is no code.
    pub link: Option<String>,
    /// The language to say it in ("en", "zh-CN").
    pub language: &'static str,
}

impl CodeNotice {
    /// The notification's title: the service and the code, as the user needs them at a glance.
    pub fn summary(&self) -> String {
        let tr = |key, args: &[(&str, &str)]| crate::i18n::tr(self.language, key, args);
        match (&self.code, &self.service) {
            (Some(code), Some(service)) => tr("notify.code", &[("service", service), ("code", code)]),
            (Some(code), None) => tr("notify.codeNoService", &[("code", code)]),
            (None, Some(service)) => tr("notify.link", &[("service", service)]),
            (None, None) => tr("notify.linkNoService", &[]),
        }
    }

    /// The notification's body: which account it is for.
    pub fn body(&self) -> String {
        let key = if self.code.is_none() && self.link.is_some() { "notify.forLink" } else { "notify.for" };
        crate::i18n::tr(self.language, key, &[("email", &self.email)])
    }
}

impl Notifier {
    /// A notifier that has not failed yet.
    pub const fn new() -> Self {
        Self { reported: AtomicBool::new(false), waiting: ActionSlots::new() }
    }

    /// Shows a code notification with a "Copy" action where the server supports actions;
    /// `copy` runs on the notification's thread when the user picks it.
    pub fn code(&'static self, app: &AppHandle, notice: CodeNotice, copy: impl FnOnce(String) + Send + 'static) {
        let app = app.clone();
        std::thread::spawn(move || {
            let mut notification = Notification::new();
            notification.appname(APP_NAME).summary(&notice.summary()).body(&notice.body()).icon("mail-unread");
            let slot = (notice.code.is_some() && supports_actions()).then(|| self.waiting.take(MAX_WAITING)).flatten();
            if slot.is_some() {
                notification.action(COPY_ACTION, &crate::i18n::tr(notice.language, "notify.copy", &[]));
            }
            match notification.show() {
                Ok(handle) if slot.is_some() => {
                    let _slot = slot;
                    let code = notice.code.clone().unwrap_or_default();
                    handle.wait_for_action(move |action| {
                        if action == COPY_ACTION {
                            copy(code);
                        }
                    });
                }
                Ok(_) => {}
                Err(err) => self.failed(&app, &err.to_string()),
            }
        });
    }

    /// Shows a plain notice (for example that the app went on running in the tray).
    pub fn notice(&'static self, app: &AppHandle, summary: String, body: String) {
        let app = app.clone();
        std::thread::spawn(move || {
            if let Err(err) = Notification::new().appname(APP_NAME).summary(&summary).body(&body).show() {
                self.failed(&app, &err.to_string());
            }
        });
    }

    /// Whether notifications have failed since the app started.
    pub fn unavailable(&self) -> bool {
        self.reported.load(Ordering::Relaxed)
    }

    fn failed(&self, app: &AppHandle, reason: &str) {
        if self.reported.swap(true, Ordering::Relaxed) {
            tracing::debug!(reason, "notification not shown");
            return;
        }
        tracing::warn!(reason, "cannot show desktop notifications; codes still appear in the window");
        let message = "Desktop notifications are not available (no notification server answered), so new codes \
                       appear only in the window and the tray.";
        // The window says this in its own language; the English sentence is for other listeners.
        let _ = app.emit(UNAVAILABLE_EVENT, message);
    }
}

/// Whether the notification server offers actions; asked once (a D-Bus round trip), on the
/// first notification's thread.
fn supports_actions() -> bool {
    static ACTIONS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ACTIONS.get_or_init(|| notify_rust::get_capabilities().is_ok_and(|caps| caps.iter().any(|c| c == "actions")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_threads_are_capped_and_a_finished_wait_frees_its_place() {
        let slots = ActionSlots::new();
        let mut held: Vec<_> =
            (0..MAX_WAITING).map(|_| slots.take(MAX_WAITING).expect("a place under the cap")).collect();
        assert!(slots.take(MAX_WAITING).is_none(), "the notification past the cap goes without an action");
        held.pop();
        held.push(slots.take(MAX_WAITING).expect("a dismissed notification gives its place back"));
        assert!(slots.take(MAX_WAITING).is_none(), "and only its own place");
    }

    #[test]
    fn a_code_notice_names_the_service_and_code_and_puts_the_account_in_the_body() {
        let notice = CodeNotice {
            email: "ann@example.com".into(),
            code: Some("042917".into()),
            service: Some("GitHub".into()),
            link: None,
            language: "en",
        };
        assert_eq!(notice.summary(), "GitHub code 042917");
        assert_eq!(notice.body(), "For ann@example.com");
        let link_only =
            CodeNotice { code: None, service: None, link: Some("https://x.test/v".into()), ..notice.clone() };
        assert_eq!(link_only.summary(), "New verification link");
        assert!(link_only.body().contains("ann@example.com"));
        let chinese = CodeNotice { language: "zh-CN", ..notice };
        assert_eq!(chinese.summary(), "GitHub 验证码 042917", "the code and service stay as they are");
        assert_eq!(chinese.body(), "账户：ann@example.com");
    }
}
