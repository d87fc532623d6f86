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

/// Microsoft Graph's base URL: Outlook accounts read mail there when IMAP does not serve them.
pub const MICROSOFT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";

/// The scope of Microsoft access tokens for reading mail through Graph. It is asked for on
/// its own: Microsoft refuses a token request that mixes Graph's and Outlook's resources
/// (AADSTS70011).
pub const MICROSOFT_GRAPH_SCOPE: &str = "https://graph.microsoft.com/Mail.Read offline_access";

/// The scope of Microsoft access tokens for SMTP AUTH, which an IMAP token does not carry.
pub const MICROSOFT_SMTP_SCOPE: &str = "https://outlook.office.com/SMTP.Send offline_access";

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

/// Submission servers whose names do not follow from their IMAP server's by swapping `imap`
/// for `smtp`, or that take STARTTLS on 587 rather than implicit TLS on 465.
const SMTP_EXCEPTIONS: &[(&str, &str, u16, Tls)] = &[
    ("outlook.office365.com", "smtp.office365.com", 587, Tls::Starttls),
    ("imap.gmail.com", "smtp.gmail.com", 465, Tls::Implicit),
    ("imap.mail.me.com", "smtp.mail.me.com", 587, Tls::Starttls),
    ("imap.gmx.net", "mail.gmx.net", 587, Tls::Starttls),
    ("imap.web.de", "smtp.web.de", 587, Tls::Starttls),
    ("secureimap.t-online.de", "securesmtp.t-online.de", 465, Tls::Implicit),
    ("imapmail.libero.it", "smtp.libero.it", 465, Tls::Implicit),
];

/// The submission server of an account with this provider and IMAP server: the provider's
/// own for Outlook and Gmail, a known exception, or `smtp.` in place of the IMAP host's
/// `imap.` with implicit TLS on 465. `None` when the IMAP host gives no hint (an IP address,
/// say); such an account needs its SMTP server given.
pub fn smtp_default(provider: Provider, imap: &super::ImapEndpoint) -> Option<super::SmtpEndpoint> {
    let host = match provider {
        Provider::Outlook => "outlook.office365.com",
        Provider::Gmail => "imap.gmail.com",
        Provider::Imap => imap.host.as_str(),
    };
    let host = host.to_ascii_lowercase();
    if let Some((_, smtp, port, tls)) = SMTP_EXCEPTIONS.iter().find(|(i, ..)| *i == host) {
        return Some(super::SmtpEndpoint { host: smtp.to_string(), port: *port, tls: *tls });
    }
    let rest = host.strip_prefix("imap.")?;
    Some(super::SmtpEndpoint { host: format!("smtp.{rest}"), port: 465, tls: Tls::Implicit })
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

    #[test]
    fn submission_servers_follow_the_provider_or_the_imap_host() {
        let imap = |h: &str| crate::account::ImapEndpoint { host: h.into(), port: 993, tls: Tls::Implicit };
        let outlook = smtp_default(Provider::Outlook, &imap("127.0.0.1")).unwrap();
        assert_eq!((outlook.to_string(), outlook.tls), ("smtp.office365.com:587".into(), Tls::Starttls));
        assert_eq!(smtp_default(Provider::Gmail, &imap("x")).unwrap().to_string(), "smtp.gmail.com:465");
        assert_eq!(smtp_default(Provider::Imap, &imap("imap.qq.com")).unwrap().to_string(), "smtp.qq.com:465");
        assert_eq!(smtp_default(Provider::Imap, &imap("IMAP.gmx.net")).unwrap().to_string(), "mail.gmx.net:587");
        assert!(smtp_default(Provider::Imap, &imap("127.0.0.1")).is_none(), "an address gives no hint");
        assert!(smtp_default(Provider::Imap, &imap("mail.example.org")).is_none());
    }
}
