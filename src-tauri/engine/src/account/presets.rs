//! Server settings for common mail domains, so that most users only type an address.

use super::{Provider, Tls};

/// OAuth2 settings of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthPreset {
    /// Token endpoint for the refresh_token grant.
    pub token_url: &'static str,
    /// Scope to request.
    pub scope: &'static str,
    /// A public client id used when the account brings none.
    pub default_client_id: &'static str,
}

/// Settings for one family of domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Who runs these domains.
    pub provider: Provider,
    /// IMAP host.
    pub imap_host: &'static str,
    /// IMAP port.
    pub imap_port: u16,
    /// TLS mode.
    pub tls: Tls,
    /// A second host tried when the first cannot be reached.
    pub imap_fallback: Option<&'static str>,
    /// OAuth2, when the provider offers it.
    pub oauth: Option<OAuthPreset>,
}

/// Microsoft's consumer token endpoint, scope and the Thunderbird public client id that most
/// account suppliers issue refresh tokens for.
pub const MICROSOFT: OAuthPreset = OAuthPreset {
    token_url: "https://login.microsoftonline.com/consumers/oauth2/v2.0/token",
    scope: "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
    default_client_id: "9e5f94bc-e8a4-4e73-b8be-63364c29d753",
};

/// Google's token endpoint and the full-mail scope IMAP needs.
pub const GOOGLE: OAuthPreset = OAuthPreset {
    token_url: "https://oauth2.googleapis.com/token",
    scope: "https://mail.google.com/",
    default_client_id: "",
};

const fn implicit(provider: Provider, host: &'static str) -> Preset {
    Preset { provider, imap_host: host, imap_port: 993, tls: Tls::Implicit, imap_fallback: None, oauth: None }
}

const OUTLOOK: Preset = Preset {
    provider: Provider::Outlook,
    imap_host: "outlook.office365.com",
    imap_port: 993,
    tls: Tls::Implicit,
    imap_fallback: Some("outlook.live.com"),
    oauth: Some(MICROSOFT),
};

const GMAIL: Preset = Preset { oauth: Some(GOOGLE), ..implicit(Provider::Gmail, "imap.gmail.com") };

/// Domains matched exactly, or by their first label when the entry ends in `.*`.
const TABLE: &[(&str, Preset)] = &[
    ("outlook.*", OUTLOOK),
    ("hotmail.*", OUTLOOK),
    ("live.*", OUTLOOK),
    ("msn.com", OUTLOOK),
    ("windowslive.com", OUTLOOK),
    ("passport.com", OUTLOOK),
    ("gmail.com", GMAIL),
    ("googlemail.com", GMAIL),
    ("yahoo.*", implicit(Provider::Imap, "imap.mail.yahoo.com")),
    ("ymail.com", implicit(Provider::Imap, "imap.mail.yahoo.com")),
    ("aol.com", implicit(Provider::Imap, "imap.aol.com")),
    ("icloud.com", implicit(Provider::Imap, "imap.mail.me.com")),
    ("me.com", implicit(Provider::Imap, "imap.mail.me.com")),
    ("mac.com", implicit(Provider::Imap, "imap.mail.me.com")),
    ("qq.com", implicit(Provider::Imap, "imap.qq.com")),
    ("foxmail.com", implicit(Provider::Imap, "imap.qq.com")),
    ("163.com", implicit(Provider::Imap, "imap.163.com")),
    ("126.com", implicit(Provider::Imap, "imap.126.com")),
    ("yeah.net", implicit(Provider::Imap, "imap.yeah.net")),
    ("sina.com", implicit(Provider::Imap, "imap.sina.com")),
    ("yandex.*", implicit(Provider::Imap, "imap.yandex.com")),
    ("ya.ru", implicit(Provider::Imap, "imap.yandex.com")),
    ("gmx.*", implicit(Provider::Imap, "imap.gmx.net")),
    ("web.de", implicit(Provider::Imap, "imap.web.de")),
    ("mail.ru", implicit(Provider::Imap, "imap.mail.ru")),
    ("inbox.ru", implicit(Provider::Imap, "imap.mail.ru")),
    ("list.ru", implicit(Provider::Imap, "imap.mail.ru")),
    ("bk.ru", implicit(Provider::Imap, "imap.mail.ru")),
    ("rambler.ru", implicit(Provider::Imap, "imap.rambler.ru")),
    ("zoho.com", implicit(Provider::Imap, "imap.zoho.com")),
    ("fastmail.com", implicit(Provider::Imap, "imap.fastmail.com")),
    ("mail.com", implicit(Provider::Imap, "imap.mail.com")),
    ("t-online.de", implicit(Provider::Imap, "secureimap.t-online.de")),
    ("naver.com", implicit(Provider::Imap, "imap.naver.com")),
    ("daum.net", implicit(Provider::Imap, "imap.daum.net")),
    ("seznam.cz", implicit(Provider::Imap, "imap.seznam.cz")),
    ("wp.pl", implicit(Provider::Imap, "imap.wp.pl")),
    ("onet.pl", implicit(Provider::Imap, "imap.poczta.onet.pl")),
    ("libero.it", implicit(Provider::Imap, "imapmail.libero.it")),
    ("orange.fr", implicit(Provider::Imap, "imap.orange.fr")),
];

/// The preset for a domain, if it is a known one.
pub fn preset_for(domain: &str) -> Option<&'static Preset> {
    let domain = domain.to_ascii_lowercase();
    let first_label = domain.split('.').next().unwrap_or("");
    TABLE.iter().find_map(|(pattern, preset)| {
        let hit = match pattern.strip_suffix(".*") {
            Some(label) => label == first_label && domain.len() > label.len() + 1,
            None => *pattern == domain,
        };
        hit.then_some(preset)
    })
}

/// The preset for a provider chosen by hand on an unknown domain (a custom domain on
/// Microsoft 365 or Google Workspace, say).
pub fn provider_default(provider: Provider) -> Option<&'static Preset> {
    match provider {
        Provider::Outlook => Some(&OUTLOOK),
        Provider::Gmail => Some(&GMAIL),
        Provider::Imap => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_domains_match_any_suffix_but_not_lookalikes() {
        for d in ["outlook.com", "outlook.de", "hotmail.co.uk", "live.fr", "msn.com"] {
            assert_eq!(preset_for(d).map(|p| p.provider), Some(Provider::Outlook), "{d}");
        }
        for d in ["outlookx.com", "myhotmail.com", "hotmail", "example.com"] {
            assert!(preset_for(d).is_none(), "{d} must not match a preset");
        }
        assert_eq!(preset_for("yandex.ru").unwrap().imap_host, "imap.yandex.com");
        assert_eq!(preset_for("GMX.de").unwrap().imap_host, "imap.gmx.net");
        assert_eq!(preset_for("qq.com").unwrap().imap_host, "imap.qq.com");
    }
}
