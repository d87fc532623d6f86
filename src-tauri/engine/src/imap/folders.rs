//! Which folder a caller means: the inbox, the junk folder (whatever the server calls it), or
//! a folder by name.

use std::fmt;
use std::str::FromStr;

use async_imap::types::{Name, NameAttribute};

/// A folder as the user names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FolderSpec {
    /// INBOX.
    Inbox,
    /// The junk folder, found by SPECIAL-USE `\Junk` or a known name.
    Junk,
    /// Any folder by its server name.
    Named(String),
}

impl FromStr for FolderSpec {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "inbox" => FolderSpec::Inbox,
            "junk" | "spam" => FolderSpec::Junk,
            _ => FolderSpec::Named(s.to_string()),
        })
    }
}

impl fmt::Display for FolderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FolderSpec::Inbox => f.write_str("inbox"),
            FolderSpec::Junk => f.write_str("junk"),
            FolderSpec::Named(n) => f.write_str(n),
        }
    }
}

/// Known junk folder names, in order of preference, for servers without SPECIAL-USE.
const JUNK_NAMES: &[&str] = &[
    "Junk",
    "Junk Email",
    "Junk E-mail",
    "Spam",
    "[Gmail]/Spam",
    "[Google Mail]/Spam",
    "Bulk Mail",
    "INBOX.Junk",
    "INBOX.Spam",
    "垃圾邮件",
];

/// The junk folder among a LIST result.
pub(crate) fn find_junk(names: &[Name]) -> Option<String> {
    if let Some(n) = names.iter().find(|n| n.attributes().iter().any(|a| matches!(a, NameAttribute::Junk))) {
        return Some(n.name().to_string());
    }
    JUNK_NAMES
        .iter()
        .find_map(|want| names.iter().find(|n| n.name().eq_ignore_ascii_case(want)).map(|n| n.name().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_specs_parse_case_insensitively() {
        assert_eq!("INBOX".parse::<FolderSpec>().unwrap(), FolderSpec::Inbox);
        assert_eq!("Spam".parse::<FolderSpec>().unwrap(), FolderSpec::Junk);
        assert_eq!("Archive".parse::<FolderSpec>().unwrap(), FolderSpec::Named("Archive".into()));
    }
}
