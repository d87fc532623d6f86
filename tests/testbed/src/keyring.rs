//! A precondition check for tests that need a real Secret Service (gnome-keyring).

use std::process::Command;

const HOW: &str = "run the tests inside the session the test bed script sets up, e.g.\n    \
    tests/testbed/with-session.sh cargo test -p mailwatch-engine\n\
    (it starts dbus-run-session and an unlocked gnome-keyring with a temp HOME; needs the \
    Debian packages gnome-keyring, dbus-x11 and libsecret-tools)";

/// Whether a session bus is reachable and `org.freedesktop.secrets` has an owner.
pub fn secret_service_available() -> Result<(), String> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return Err("DBUS_SESSION_BUS_ADDRESS is unset: there is no D-Bus session bus".into());
    }
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--reply-timeout=2000",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .map_err(|e| format!("cannot run dbus-send ({e}); install dbus"))?;
    if !out.status.success() {
        return Err(format!("cannot reach the session bus: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
        Ok(())
    } else {
        Err("org.freedesktop.secrets has no owner: no Secret Service (gnome-keyring) is running".into())
    }
}

/// Panics with instructions unless a Secret Service is running on the session bus.
///
/// # Panics
/// When `DBUS_SESSION_BUS_ADDRESS` is unset or `org.freedesktop.secrets` has no owner.
pub fn require_secret_service() {
    if let Err(why) = secret_service_available() {
        panic!("this test needs a Secret Service: {why}.\nTo fix: {HOW}");
    }
}
