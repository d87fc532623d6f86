//! The shell's words (tray menu, notifications) in the user's language, from the same
//! catalogues the window uses (`ui/i18n/*.json`), compiled in.
//!
//! The language is the one chosen in Settings, or else the system's: the first of `LC_ALL`,
//! `LC_MESSAGES` and `LANG` that is set. Chinese of Taiwan, Hong Kong or Macau gets Traditional
//! Chinese, any other Chinese Simplified; anything else the window does not speak gets English.
//! The CLI does not use this: it stays English.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

/// The languages there is a catalogue for, with the catalogue's JSON.
const CATALOGUES: [(&str, &str); 3] = [
    ("en", include_str!("../../ui/i18n/en.json")),
    ("zh-CN", include_str!("../../ui/i18n/zh-CN.json")),
    ("zh-TW", include_str!("../../ui/i18n/zh-TW.json")),
];

/// A catalogue: key to message (a string, or plural forms by `Intl.PluralRules` category).
pub type Catalogue = HashMap<String, Value>;

fn catalogues() -> &'static HashMap<&'static str, Catalogue> {
    static PARSED: OnceLock<HashMap<&'static str, Catalogue>> = OnceLock::new();
    PARSED.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(code, json)| {
                // Both files are checked by the tests in tests/ui and below; a broken one is a
                // build that must not ship, not a state to run in.
                let catalogue: Catalogue =
                    serde_json::from_str(json).expect("the catalogues in ui/i18n are valid JSON");
                (*code, catalogue)
            })
            .collect()
    })
}

/// The language for `choice` (a stored preference, "" for the system's), falling back to the
/// system's locale from the environment.
pub fn resolve(choice: &str) -> &'static str {
    if let Some((code, _)) = CATALOGUES.iter().find(|(code, _)| *code == choice) {
        return code;
    }
    let system = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .unwrap_or_default();
    from_locale(&system)
}

/// The language for a POSIX locale name ("zh_CN.UTF-8", "zh_TW.UTF-8", "en_GB", "C").
pub fn from_locale(locale: &str) -> &'static str {
    let lower = locale.to_ascii_lowercase();
    if !lower.starts_with("zh") {
        "en"
    } else if ["zh_tw", "zh_hk", "zh_mo"].iter().any(|p| lower.starts_with(p)) {
        "zh-TW"
    } else {
        "zh-CN"
    }
}

/// The catalogue of `language` (English for one there is none of).
pub fn catalogue(language: &str) -> &'static Catalogue {
    let all = catalogues();
    all.get(language).unwrap_or_else(|| &all["en"])
}

/// The message `key` in `language` with `{name}` placeholders filled from `args`; the English
/// message if the language lacks it, and the key itself if English does too.
pub fn tr(language: &str, key: &str, args: &[(&str, &str)]) -> String {
    let message = catalogue(language).get(key).or_else(|| catalogue("en").get(key));
    let Some(message) = message else { return key.to_string() };
    let text = match message {
        Value::String(text) => text.as_str(),
        // The shell's messages take no counts; a plural message shows its general form.
        Value::Object(forms) => forms.get("other").and_then(Value::as_str).unwrap_or(key),
        _ => key,
    };
    args.iter().fold(text.to_string(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_to_the_languages_there_are_catalogues_for() {
        assert_eq!(from_locale("zh_CN.UTF-8"), "zh-CN");
        assert_eq!(from_locale("zh_TW.UTF-8"), "zh-TW");
        assert_eq!(from_locale("zh_HK.UTF-8"), "zh-TW", "Hong Kong reads Traditional script");
        assert_eq!(from_locale("zh_SG.UTF-8"), "zh-CN");
        assert_eq!(from_locale("en_GB.UTF-8"), "en");
        assert_eq!(from_locale("C"), "en");
        assert_eq!(from_locale(""), "en");
        assert_eq!(resolve("zh-CN"), "zh-CN", "a choice made in Settings wins over the system");
        assert_eq!(resolve("en"), "en");
    }

    #[test]
    fn the_shell_s_messages_exist_in_every_language_with_their_placeholders() {
        let keys = [
            ("tray.toggle", vec![]),
            ("tray.pause", vec![]),
            ("tray.resume", vec![]),
            ("tray.noCodes", vec![]),
            ("tray.quit", vec![]),
            ("notify.code", vec!["service", "code"]),
            ("notify.codeNoService", vec!["code"]),
            ("notify.link", vec!["service"]),
            ("notify.linkNoService", vec![]),
            ("notify.for", vec!["email"]),
            ("notify.forLink", vec!["email"]),
            ("notify.copy", vec![]),
            ("notify.stillRunning", vec![]),
            ("notify.stillRunning.body", vec![]),
        ];
        for (language, _) in CATALOGUES {
            for (key, placeholders) in &keys {
                let message = catalogue(language).get(*key).and_then(Value::as_str);
                let message = message.unwrap_or_else(|| panic!("{language} has no {key}"));
                for p in placeholders {
                    assert!(message.contains(&format!("{{{p}}}")), "{language} {key} names {{{p}}}: {message:?}");
                }
            }
        }
        assert_eq!(tr("en", "notify.code", &[("service", "GitHub"), ("code", "042917")]), "GitHub code 042917");
        assert_eq!(tr("zh-CN", "no.such.key", &[]), "no.such.key");
    }
}
