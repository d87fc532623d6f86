//! Masking addresses in output that may be pasted into a bug report or a chat.

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
