//! Masking addresses in output that may be pasted into a bug report or a chat, and keeping
//! secrets out of the logs.

/// Crates whose debug and trace lines carry raw protocol text: async-imap logs every command it
/// sends (`LOGIN "user" "password"`, the XOAUTH2 bearer) and every byte it reads (mail and
/// codes); the HTTP and D-Bus stacks can log the token exchange's form and the keyring's
/// messages. A log setup caps each of these at [`PROTOCOL_LOG_CAP`], whatever the user's
/// filter asks for, so `MAILWATCH_LOG=trace` never writes a secret.
pub const PROTOCOL_LOG_TARGETS: &[&str] =
    &["async_imap", "imap_proto", "hyper", "hyper_util", "h2", "reqwest", "rustls", "tokio_rustls", "zbus"];

/// The most a crate in [`PROTOCOL_LOG_TARGETS`] may log: info, which none of them uses for
/// protocol text.
pub const PROTOCOL_LOG_CAP: tracing::Level = tracing::Level::INFO;

/// Masks the local part of an address, keeping its first and last character and the domain:
/// `alice@example.com` becomes `a***e@example.com`. Text without an `@` is masked whole.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let chars: Vec<char> = local.chars().collect();
            let masked = match chars.len() {
                0 => String::new(),
                1 | 2 => "*".repeat(chars.len()),
                n => format!("{}***{}", chars[0], chars[n - 1]),
            };
            format!("{masked}@{domain}")
        }
        None => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_local_part_only() {
        assert_eq!(mask_email("alice@example.com"), "a***e@example.com");
        assert_eq!(mask_email("ab@x.io"), "**@x.io");
        assert_eq!(mask_email("nope"), "***");
        assert!(!mask_email("secretname@x.io").contains("secretname"));
    }
}
