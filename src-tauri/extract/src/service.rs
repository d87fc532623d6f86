//! Names the sending service: from the sender's domain when it is a known one (any subdomain,
//! e.g. `noreply@accountprotection.microsoft.com` → Microsoft), else from a known name in the
//! display name, else from the display name itself with "Team", "Support", "no-reply" and the
//! like removed. Mailbox providers' own domains (gmail.com, qq.com...) name no service.
//!
//! A display name is anyone's to write: one that claims a known service ("PayPal", "Steam
//! Support") from a domain that is not that service's names the domain instead
//! (`paypa1-verify.com`), so a phishing message never shows up under the brand it imitates.

/// Known services: registrable domains and the name users know them by.
const DOMAINS: &[(&str, &str)] = &[
    ("github.com", "GitHub"),
    ("gitlab.com", "GitLab"),
    ("bitbucket.org", "Bitbucket"),
    ("microsoft.com", "Microsoft"),
    ("microsoftonline.com", "Microsoft"),
    ("live.com", "Microsoft"),
    ("outlook.com", "Microsoft"),
    ("office.com", "Microsoft"),
    ("xbox.com", "Xbox"),
    ("steampowered.com", "Steam"),
    ("steamcommunity.com", "Steam"),
    ("google.com", "Google"),
    ("youtube.com", "YouTube"),
    ("apple.com", "Apple"),
    ("icloud.com", "Apple"),
    ("amazon.com", "Amazon"),
    ("amazon.co.uk", "Amazon"),
    ("amazon.de", "Amazon"),
    ("amazon.co.jp", "Amazon"),
    ("amazon.fr", "Amazon"),
    ("aws.amazon.com", "AWS"),
    ("facebookmail.com", "Facebook"),
    ("facebook.com", "Facebook"),
    ("instagram.com", "Instagram"),
    ("mail.instagram.com", "Instagram"),
    ("whatsapp.com", "WhatsApp"),
    ("meta.com", "Meta"),
    ("twitter.com", "X"),
    ("x.com", "X"),
    ("discord.com", "Discord"),
    ("discordapp.com", "Discord"),
    ("slack.com", "Slack"),
    ("telegram.org", "Telegram"),
    ("linkedin.com", "LinkedIn"),
    ("paypal.com", "PayPal"),
    ("stripe.com", "Stripe"),
    ("dropbox.com", "Dropbox"),
    ("notion.so", "Notion"),
    ("mail.notion.so", "Notion"),
    ("openai.com", "OpenAI"),
    ("anthropic.com", "Anthropic"),
    ("netflix.com", "Netflix"),
    ("spotify.com", "Spotify"),
    ("uber.com", "Uber"),
    ("airbnb.com", "Airbnb"),
    ("booking.com", "Booking.com"),
    ("epicgames.com", "Epic Games"),
    ("battle.net", "Blizzard"),
    ("blizzard.com", "Blizzard"),
    ("riotgames.com", "Riot Games"),
    ("ea.com", "EA"),
    ("ubisoft.com", "Ubisoft"),
    ("playstation.com", "PlayStation"),
    ("sony.com", "Sony"),
    ("nintendo.com", "Nintendo"),
    ("nintendo.net", "Nintendo"),
    ("tiktok.com", "TikTok"),
    ("snapchat.com", "Snapchat"),
    ("reddit.com", "Reddit"),
    ("redditmail.com", "Reddit"),
    ("binance.com", "Binance"),
    ("coinbase.com", "Coinbase"),
    ("kraken.com", "Kraken"),
    ("wechat.com", "WeChat"),
    ("tencent.com", "Tencent"),
    ("qq.com", "Tencent"),
    ("alipay.com", "Alipay"),
    ("taobao.com", "Taobao"),
    ("alibaba.com", "Alibaba"),
    ("aliyun.com", "Alibaba Cloud"),
    ("baidu.com", "Baidu"),
    ("bilibili.com", "Bilibili"),
    ("jd.com", "JD.com"),
    ("naver.com", "Naver"),
    ("navercorp.com", "Naver"),
    ("kakao.com", "Kakao"),
    ("kakaocorp.com", "Kakao"),
    ("line.me", "LINE"),
    ("linecorp.com", "LINE"),
    ("yahoo.com", "Yahoo"),
    ("yahoo.co.jp", "Yahoo! JAPAN"),
    ("rakuten.co.jp", "Rakuten"),
    ("mercari.com", "Mercari"),
    ("yandex.ru", "Yandex"),
    ("yandex.com", "Yandex"),
    ("vk.com", "VK"),
    ("mail.ru", "Mail.ru"),
    ("ozon.ru", "Ozon"),
    ("wildberries.ru", "Wildberries"),
    ("gosuslugi.ru", "Gosuslugi"),
    ("sberbank.ru", "Sber"),
    ("tinkoff.ru", "Tinkoff"),
    ("zoom.us", "Zoom"),
    ("atlassian.com", "Atlassian"),
    ("figma.com", "Figma"),
    ("canva.com", "Canva"),
    ("shopify.com", "Shopify"),
    ("ebay.com", "eBay"),
    ("etsy.com", "Etsy"),
    ("twitch.tv", "Twitch"),
    ("vercel.com", "Vercel"),
    ("cloudflare.com", "Cloudflare"),
    ("digitalocean.com", "DigitalOcean"),
    ("heroku.com", "Heroku"),
    ("npmjs.com", "npm"),
    ("docker.com", "Docker"),
    ("adobe.com", "Adobe"),
    ("samsung.com", "Samsung"),
    ("xiaomi.com", "Xiaomi"),
    ("huawei.com", "Huawei"),
    ("okta.com", "Okta"),
    ("auth0.com", "Auth0"),
    ("duolingo.com", "Duolingo"),
    ("revolut.com", "Revolut"),
    ("wise.com", "Wise"),
    ("n26.com", "N26"),
    ("mercadolibre.com", "Mercado Libre"),
    ("mercadopago.com", "Mercado Pago"),
    ("nubank.com.br", "Nubank"),
    ("shopee.com", "Shopee"),
    ("grab.com", "Grab"),
    ("gojek.com", "Gojek"),
    ("tokopedia.com", "Tokopedia"),
    ("lazada.com", "Lazada"),
    ("trendyol.com", "Trendyol"),
    ("zalando.de", "Zalando"),
    ("otto.de", "Otto"),
    ("leboncoin.fr", "leboncoin"),
    ("doctolib.fr", "Doctolib"),
    ("agoda.com", "Agoda"),
    ("expedia.com", "Expedia"),
    ("trip.com", "Trip.com"),
    ("ctrip.com", "Trip.com"),
    ("proton.me", "Proton"),
    ("protonmail.com", "Proton"),
    ("tuta.com", "Tuta"),
    ("signal.org", "Signal"),
    ("viber.com", "Viber"),
    ("roblox.com", "Roblox"),
    ("minecraft.net", "Minecraft"),
    ("mojang.com", "Minecraft"),
    ("valvesoftware.com", "Steam"),
    ("gog.com", "GOG"),
    ("hoyoverse.com", "HoYoverse"),
    ("mihoyo.com", "miHoYo"),
    ("garena.com", "Garena"),
    ("nexon.com", "Nexon"),
    ("ncsoft.com", "NCSOFT"),
    ("toss.im", "Toss"),
    ("coupang.com", "Coupang"),
];

/// Names found in display names ("Steam Support", "Microsoft account team").
const NAMES: &[&str] = &[
    "GitHub",
    "GitLab",
    "Microsoft",
    "Steam",
    "Google",
    "Apple",
    "Amazon",
    "Facebook",
    "Instagram",
    "WhatsApp",
    "Discord",
    "Slack",
    "Telegram",
    "LinkedIn",
    "PayPal",
    "Stripe",
    "Dropbox",
    "Notion",
    "OpenAI",
    "Netflix",
    "Spotify",
    "Uber",
    "Airbnb",
    "Binance",
    "Coinbase",
    "WeChat",
    "Alipay",
    "Naver",
    "Kakao",
    "LINE",
    "Yahoo",
    "Yandex",
    "Zoom",
    "Twitch",
    "Epic Games",
    "Blizzard",
    "Roblox",
    "TikTok",
    "Reddit",
    "Xbox",
    "PlayStation",
];

/// [`NAMES`] in lower case.
static NAMES_LOWER: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| NAMES.iter().map(|n| n.to_lowercase()).collect());

/// Mailbox providers: their domains send for anyone.
const PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "hotmail.com",
    "yahoo.co.uk",
    "aol.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "163.com",
    "126.com",
    "sina.com",
    "foxmail.com",
    "naver.net",
    "daum.net",
    "hanmail.net",
    "mail.com",
    "yandex.ua",
    "inbox.ru",
    "bk.ru",
    "list.ru",
    "rambler.ru",
    "orange.fr",
    "free.fr",
    "libero.it",
    "seznam.cz",
    "wp.pl",
    "onet.pl",
    "uol.com.br",
    "bol.com.br",
];

/// Words in display names that are not the service's name.
const NOISE: &[&str] = &[
    "team",
    "support",
    "no-reply",
    "noreply",
    "no reply",
    "do not reply",
    "donotreply",
    "account",
    "accounts",
    "security",
    "notifications",
    "notification",
    "info",
    "via",
    "the",
    "mailer",
    "service",
    "services",
    "help",
    "alerts",
    "verification",
    "verify",
    "login",
    "id",
    "customer",
    "care",
    "official",
    "staff",
    "robot",
    "bot",
];

/// Recognises the service from the sender's address and display name.
pub fn recognise(address: Option<&str>, name: Option<&str>) -> Option<String> {
    let domain =
        address.and_then(|a| a.rsplit_once('@')).map(|(_, d)| d.trim().trim_end_matches('>').to_ascii_lowercase());
    if let Some(domain) = &domain {
        let known = DOMAINS
            .iter()
            .filter(|(d, _)| domain.strip_suffix(d).is_some_and(|rest| rest.is_empty() || rest.ends_with('.')))
            .max_by_key(|(d, _)| d.len());
        if let Some((_, service)) = known {
            return Some((*service).to_string());
        }
    }
    if let Some(name) = name {
        if let (Some(domain), true) = (&domain, claims_brand(name)) {
            return registrable(domain).or_else(|| Some(domain.clone()));
        }
        let lower = name.to_lowercase();
        for (known, k) in NAMES.iter().zip(NAMES_LOWER.iter()) {
            // Most names are absent: one memmem rules them out before the word-boundary check.
            if memchr::memmem::find(lower.as_bytes(), k.as_bytes()).is_none() {
                continue;
            }
            let found = lower.match_indices(k.as_str()).any(|(i, _)| {
                let before = lower[..i].chars().next_back();
                let after = lower[i + k.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
            });
            if found {
                return Some((*known).to_string());
            }
        }
        let cleaned: Vec<&str> = name
            .split(|c: char| c.is_whitespace() || matches!(c, '-' | '|' | ',' | '(' | ')' | '"' | '[' | ']'))
            .filter(|w| !w.is_empty() && !NOISE.contains(&w.to_lowercase().as_str()))
            .collect();
        if !cleaned.is_empty() && cleaned.len() <= 4 && !name.contains('@') {
            return Some(cleaned.join(" "));
        }
    }
    let domain = domain?;
    if PROVIDERS.contains(&domain.as_str()) {
        return None;
    }
    // The registrable label: accounts.acme.io → Acme.
    let registrable = registrable(&domain)?;
    let label = registrable.split('.').next()?;
    let mut chars = label.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// The domain one registers: `accounts.acme.io` → `acme.io`, `notify.acme.co.uk` → `acme.co.uk`.
fn registrable(domain: &str) -> Option<String> {
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    let keep = match labels.as_slice() {
        [.., _, "co" | "com" | "net" | "org" | "ac" | "gov", _] if labels.len() >= 3 => 3,
        [.., _, _] => 2,
        _ => return None,
    };
    Some(labels[labels.len() - keep..].join("."))
}

/// Whether a display name claims a known service: one of [`NAMES`] as a word, or a known
/// service's name once the noise words are gone ("Netflix Team").
fn claims_brand(name: &str) -> bool {
    let lower = name.to_lowercase();
    let has_word = |k: &str| {
        lower.match_indices(k).any(|(i, _)| {
            let before = lower[..i].chars().next_back();
            let after = lower[i + k.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    };
    if NAMES_LOWER.iter().any(|k| memchr::memmem::find(lower.as_bytes(), k.as_bytes()).is_some() && has_word(k)) {
        return true;
    }
    let cleaned: Vec<String> = name
        .split(|c: char| c.is_whitespace() || matches!(c, '-' | '|' | ',' | '(' | ')' | '"' | '[' | ']'))
        .filter(|w| !w.is_empty() && !NOISE.contains(&w.to_lowercase().as_str()))
        .map(str::to_lowercase)
        .collect();
    let cleaned = cleaned.join(" ");
    !cleaned.is_empty() && DOMAINS.iter().any(|(_, service)| service.to_lowercase() == cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            recognise(Some("account-security-noreply@accountprotection.microsoft.com"), None).as_deref(),
            Some("Microsoft")
        );
        assert_eq!(recognise(Some("noreply@steampowered.com"), Some("Steam")).as_deref(), Some("Steam"));
        assert_eq!(recognise(Some("x@mail.acme.io"), Some("Acme Team")).as_deref(), Some("Acme"));
        assert_eq!(recognise(Some("x@notify.acme.co.uk"), None).as_deref(), Some("Acme"));
        assert_eq!(recognise(Some("bob@gmail.com"), None), None);
    }

    #[test]
    fn a_brand_in_the_display_name_from_another_domain_shows_the_domain() {
        assert_eq!(recognise(Some("security@paypa1-verify.com"), Some("PayPal")).as_deref(), Some("paypa1-verify.com"));
        assert_eq!(recognise(Some("help@mail.steam-gift.ru"), Some("Steam Support")).as_deref(), Some("steam-gift.ru"));
        assert_eq!(recognise(Some("someone@gmail.com"), Some("Netflix Team")).as_deref(), Some("gmail.com"));
        // The real thing, and names that claim no brand, are unchanged.
        assert_eq!(recognise(Some("service@intl.paypal.com"), Some("PayPal")).as_deref(), Some("PayPal"));
        assert_eq!(recognise(Some("x@mail.acme.io"), Some("Acme Team")).as_deref(), Some("Acme"));
        assert_eq!(recognise(None, Some("Steam Support")).as_deref(), Some("Steam"), "no address, nothing to compare");
    }
}
