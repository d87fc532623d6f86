//! Picks the verification or magic sign-in link: the action button ("Verify email", "Confirm
//! sign-in", "确认邮箱"), a "click here" whose sentence says what it does, or a bare URL after
//! "confirm your account:" in a text mail.
//!
//! Templates put other links first (logo, "view in browser") and others after (unsubscribe,
//! privacy, help, "this wasn't me"); those are ruled out by their text, their target or the words
//! just before them, whatever their position. A link that only says "Log in" counts only when
//! the subject says the mail is about signing in or verifying.
//!
//! Two rules carry over to languages no word list covers: an action's target carries a token
//! (a page like `/login` names no one), and the one target of a message whose path names an
//! action (`/verify-email?token=...`, `/password/reset/...`) is that action whatever its text
//! says. Purchases, orders, paid subscriptions and articles are never the action.

use std::sync::LazyLock;

use aho_corasick::MatchKind;

use crate::blocks::{Document, Link};
use crate::{dfa, lexicon};

/// Score a link needs to be returned.
const THRESHOLD: f32 = 6.0;
/// Most links looked at.
const MAX_LINKS_SCORED: usize = 200;

/// The chosen link.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundLink {
    /// Target as written.
    pub href: String,
    /// 0 to 1.
    pub confidence: f32,
}

/// Link text (or the sentence before it) that says "this verifies or signs you in".
const STRONG: &[&str] = &[
    "verify",
    "verification",
    "confirm",
    "activate",
    "activation",
    "validate",
    "magic link",
    "sign in to",
    "log in to",
    "sign in now",
    "log in now",
    "login now",
    "reset password",
    "reset your password",
    "set password",
    "set your password",
    "new password",
    "create password",
    "approve",
    "yes, it's me",
    "yes it's me",
    "yes, it was me",
    "complete registration",
    "complete your registration",
    "complete sign",
    "finish signing",
    "finish setting",
    "authenticate",
    "sign-in link",
    "login link",
    "sign in link",
    "sign in with",
    "log in with",
    "sign in using",
    "log in using",
    "yes, subscribe",
    "subscribe me",
    "confirm subscription",
    "confirm your subscription",
    "验证",
    "确认",
    "激活",
    "登录",
    "驗證",
    "確認",
    "啟用",
    "登入",
    "認証",
    "有効化",
    "ログイン",
    "本登録",
    "인증",
    "확인",
    "로그인",
    "활성화",
    "подтверд",
    "активир",
    "войти",
    "вход",
    "подтвердіть",
    "увійти",
    "bestätig",
    "verifizier",
    "aktivier",
    "einloggen",
    "anmelden",
    "confirmer",
    "vérifi",
    "activer",
    "connecter",
    "connexion",
    "confirmar",
    "verificar",
    "activar",
    "ativar",
    "iniciar sesión",
    "iniciar sessão",
    "conferma",
    "verifica",
    "attiva",
    "accedi",
    "bevestig",
    "verifieer",
    "activeer",
    "inloggen",
    "potwierdź",
    "zweryfikuj",
    "aktywuj",
    "zaloguj",
    "doğrula",
    "onayla",
    "etkinleştir",
    "giriş yap",
    "xác minh",
    "xác nhận",
    "kích hoạt",
    "đăng nhập",
    "verifikasi",
    "konfirmasi",
    "aktifkan",
    "تأكيد",
    "تحقق",
    "تفعيل",
    "تسجيل الدخول",
    "ยืนยัน",
    "เปิดใช้งาน",
    "เข้าสู่ระบบ",
    "επιβεβαίω",
    "επαλήθευ",
    "ověř",
    "potvrď",
    "potvrdit",
    "aktivovat",
    "přihlásit",
    "bekräfta",
    "verifiera",
    "bekreft",
    "bekræft",
    "vahvista",
    "confirmă",
    "verifică",
    "megerősít",
    "підтверд",
    "активуй",
    "אימות",
    "אמת",
    "אישור",
    "सत्यापित",
    "पुष्टि",
    "reset the password",
    "password reset",
];

/// Link text that may be the action, if the mail is about it.
const WEAK: &[&str] = &[
    "sign in",
    "log in",
    "login",
    "sign-in",
    "log-in",
    "continue",
    "click here",
    "get started",
    "this link",
    "点击",
    "點擊",
    "クリック",
    "클릭",
    "нажмите",
    "klicken",
    "cliquez",
    "haga clic",
    "clique",
    "fare clic",
    "klik",
    "tıkla",
    "nhấp",
    "انقر",
    "คลิก",
    "masuk",
    "entrar",
    "accéder",
];

/// Link text, or words just before a link, that mark it as not the action.
const NEGATIVE: &[&str] = &[
    "unsubscribe",
    "opt out",
    "opt-out",
    "privacy",
    "terms",
    "help",
    "support",
    "faq",
    "contact",
    "preferences",
    "manage notifications",
    "notification settings",
    "email settings",
    "view in browser",
    "view online",
    "web version",
    "view this email",
    "wasn't me",
    "was not me",
    "not me",
    "wasn't you",
    "was not you",
    "not you",
    "didn't request",
    "did not request",
    "didn't sign",
    "report",
    "secure your account",
    "block",
    "deny",
    "cancel",
    "change password",
    "change your password",
    "lock",
    "learn more",
    "download",
    "app store",
    "google play",
    "facebook",
    "twitter",
    "linkedin",
    "instagram",
    "youtube",
    "tiktok",
    "logo",
    "blog",
    "careers",
    "community",
    "forum",
    "feedback",
    "survey",
    "abmelden",
    "désabonner",
    "désinscri",
    "darse de baja",
    "cancelar suscripción",
    "cancelar inscrição",
    "disiscriviti",
    "afmelden",
    "abonelikten",
    "hủy đăng ký",
    "berhenti berlangganan",
    "إلغاء الاشتراك",
    "ยกเลิกการรับ",
    "取消订阅",
    "退订",
    "退訂",
    "配信停止",
    "登録解除",
    "수신거부",
    "수신 거부",
    "отписаться",
    "отказаться",
    "datenschutz",
    "confidentialité",
    "privacidad",
    "privacidade",
    "隐私",
    "隱私",
    "プライバシー",
    "개인정보",
    "конфиденциальн",
    "hilfe",
    "aide",
    "ayuda",
    "ajuda",
    "帮助",
    "幫助",
    "ヘルプ",
    "도움말",
    "помощь",
    "不是我",
    "不是本人",
    "心当たりがない",
    "본인이 아닌",
    "не я",
    "nicht ich",
    "pas moi",
    "no fui yo",
    "não fui eu",
    "impressum",
    "imprint",
    "track",
    "order",
    "invoice",
    "receipt",
    "shop",
    "buy",
    "sale",
    "booking",
    "purchase",
    "activate your subscription",
    "activate subscription",
    "billing",
    "read more",
    "continue reading",
    "read the article",
    "配送",
    "追跡",
    "物流",
    "发货",
    "快递",
    "出貨",
    "배송",
    "доставк",
    "посылк",
    "sendung",
    "colis",
    "envío",
    "rastrear",
    "spedizione",
    "kargo",
    "vận đơn",
    "lacak",
    "พัสดุ",
    "تتبع",
    "订单",
    "注文",
    "주문",
    "заказ",
    "bestellung",
    "commande",
    "pedido",
    "ordine",
    "sipariş",
    "đơn hàng",
    "pesanan",
    "طلب",
    "คำสั่งซื้อ",
    "zamówien",
    "przesyłk",
];

/// Words just before a link, in its own sentence, that make it an escape hatch.
const LEAD_NEGATIVE: &[&str] = &[
    "wasn't you",
    "was not you",
    "wasn't me",
    "not you",
    "didn't request",
    "did not request",
    "didn't change",
    "did not change",
    "didn't attempt",
    "did not attempt",
    "if you didn't",
    "if you did not",
    "if this wasn't",
    "if it wasn't",
    "if not,",
    "don't recognize",
    "do not recognize",
    "unsubscribe",
    "不是本人",
    "不是您",
    "非本人",
    "心当たり",
    "본인이 아닌",
    "не вы",
    "не запрашивали",
    "nicht du",
    "nicht sie",
    "pas vous",
    "no fuiste",
    "não foi",
    "to stop receiving",
    "remove your email",
];

/// Words in a target that say it verifies, resets or signs in with a one-off token.
const URL_ACTION: &[&str] = &[
    "verif",
    "confirm",
    "activat",
    "validat",
    "magic",
    "token",
    "otp",
    "reset",
    "passwordless",
    "approve",
    "password_change",
    "password-change",
    "forgot",
    "recover",
];

/// Words in a target that say it signs in, which every newsletter's footer also does.
const URL_SIGN_IN: &[&str] = &["login", "signin", "sign-in", "sign_in", "auth", "onboard", "register"];

/// Words in a target that say it is anything else.
const URL_NEGATIVE: &[&str] = &[
    "unsubscribe",
    "optout",
    "opt-out",
    "opt_out",
    "privacy",
    "/terms",
    "/legal",
    "help.",
    "/help",
    "support.",
    "/support",
    "/faq",
    "preferences",
    "/settings/notifications",
    "logo",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    "pixel",
    "/open?",
    "/open/",
    "track/open",
    "report",
    "not-me",
    "notme",
    "not_me",
    "wasnt",
    "deny",
    "/block",
    "facebook.com",
    "twitter.com",
    "linkedin.com",
    "instagram.com",
    "youtube.com",
    "tiktok.com",
    "apps.apple.com",
    "play.google.com",
    "/unsub",
    "list-manage.com/unsubscribe",
    "/privacy",
    "/billing",
    "/purchase",
    "/checkout",
    "/order/",
    "/orders/",
];

/// One automaton per word list: a link is checked against hundreds of words, for every link of
/// every message.
struct Words {
    strong: Option<dfa::Words>,
    /// A link's text against [`STRONG`], [`WEAK`] and [`NEGATIVE`] at once.
    text: Lists,
    lead_negative: Option<dfa::Words>,
    /// A target's path against [`URL_NEGATIVE`], [`URL_ACTION`] and [`URL_SIGN_IN`] at once.
    path: Lists,
    /// The word for password in every language of the catalogue.
    password: Option<dfa::Words>,
    social: Option<dfa::Words>,
    subject: Option<dfa::Words>,
}

/// Several word lists in one automaton: which of them occur in a haystack, in one pass.
struct Lists {
    automaton: Option<dfa::Words>,
    /// Where each list's patterns end, in pattern order.
    ends: Vec<usize>,
}

impl Lists {
    fn new(lists: &[&[&str]]) -> Lists {
        let ends = lists.iter().scan(0, |end, list| {
            *end += list.len();
            Some(*end)
        });
        Lists { ends: ends.collect(), automaton: automaton(lists.iter().flat_map(|list| list.iter())) }
    }

    /// Bit `i` set when a word of list `i` occurs in `haystack`.
    fn found(&self, haystack: &str) -> u32 {
        let Some(words) = &self.automaton else { return 0 };
        let all = (1u32 << self.ends.len()) - 1;
        let mut found = 0;
        // Overlapping: every occurrence of every word, so no list hides another.
        words.each_overlapping(haystack.as_bytes(), |pattern| {
            let list = self.ends.iter().position(|&end| pattern < end).unwrap_or(0);
            found |= 1 << list;
            found != all
        });
        found
    }
}

static WORDS: LazyLock<Words> = LazyLock::new(|| {
    // The catalogue's verify and reset words name the action in languages the lists above do
    // not cover; its password and code words say what a subject is about.
    let strong: Vec<&str> =
        STRONG.iter().copied().chain(lexicon::all(|w| w.verify)).chain(lexicon::all(|w| w.reset)).collect();
    let subject: Vec<&str> = strong
        .iter()
        .copied()
        .chain(SUBJECT_INTENT.iter().copied())
        .chain(lexicon::all(|w| w.password))
        .chain(lexicon::all(|w| w.code))
        .collect();
    Words {
        strong: automaton(strong.iter()),
        text: Lists::new(&[&strong, WEAK, NEGATIVE]),
        lead_negative: automaton(LEAD_NEGATIVE.iter()),
        path: Lists::new(&[URL_NEGATIVE, URL_ACTION, URL_SIGN_IN]),
        password: automaton(lexicon::all(|w| w.password).collect::<Vec<_>>().iter()),
        social: automaton(SOCIAL.iter()),
        subject: automaton(subject.iter()),
    }
});

/// A DFA with standard match semantics, so that overlapping searches can run on it.
fn automaton<'a>(words: impl Iterator<Item = &'a &'a str>) -> Option<dfa::Words> {
    dfa::Words::new(words, MatchKind::Standard, false)
}

/// Hosts of social networks: their links are follow-us icons.
const SOCIAL: &[&str] = &["facebook.com", "twitter.com", "linkedin.com", "instagram.com", "youtube.com"];
/// Subject words saying the mail is about signing in, besides the strong ones.
const SUBJECT_INTENT: &[&str] = &["sign in", "sign-in", "log in", "login", "code", "magic", "password"];

/// True when `text` names an action a link or code is for: verify, confirm, sign in, reset, in
/// the languages of the word lists.
pub(crate) fn names_action(text: &str) -> bool {
    has(&WORDS.strong, &text.to_lowercase())
}

/// True when `haystack` (lower case) holds any word of the list.
fn has(list: &Option<dfa::Words>, haystack: &str) -> bool {
    list.as_ref().is_some_and(|words| words.is_match(haystack.as_bytes()))
}

/// The last `max` characters of `s`.
fn tail_chars(s: &str, max: usize) -> &str {
    if max == 0 {
        return "";
    }
    s.char_indices().nth_back(max - 1).map_or(s, |(i, _)| &s[i..])
}

/// The last `max` characters of `s` in lower case. Lower-casing maps each character on its own
/// (to one or more), so only a short tail needs it, not the whole context.
fn lower_tail<'b>(s: &str, max: usize, buf: &'b mut String) -> &'b str {
    lower_into(tail_chars(s, max + max / 2), buf);
    tail_chars(buf, max)
}

/// `s.to_lowercase()` into `buf`, reusing its allocation.
fn lower_into<'b>(s: &str, buf: &'b mut String) -> &'b str {
    buf.clear();
    if s.is_ascii() {
        buf.push_str(s);
        buf.make_ascii_lowercase();
    } else {
        // Non-ASCII lower-casing depends on context (a final sigma): leave it to the library.
        buf.push_str(&s.to_lowercase());
    }
    buf
}

/// Lower-cased copies of one link's parts, kept from link to link so that scoring forty links
/// allocates four buffers, not two hundred strings.
#[derive(Default)]
struct Lowered {
    href: String,
    text: String,
    lead: String,
    context: String,
}

/// Finds the verification or sign-in link, or `None`.
pub fn find_link(subject: &str, doc: &Document) -> Option<FoundLink> {
    let subject_l = subject.to_lowercase();
    let subject_intent = has(&WORDS.subject, &subject_l);

    let mut lowered = Lowered::default();
    let scored: Vec<Option<Scored>> =
        doc.links.iter().take(MAX_LINKS_SCORED).map(|link| score(link, subject_intent, &mut lowered)).collect();
    // One target whose path says "verify" or "reset" with a token, however many times it is
    // linked (a button and its copy-paste fallback), is the action in any language: its text
    // may be in a language no list covers.
    let mut action_targets = doc.links.iter().zip(&scored).filter(|(_, s)| s.is_some_and(|s| s.action_path));
    let unique_action = action_targets.next().map(|(l, _)| l.href.as_str()).filter(|first| {
        let mut rest = action_targets;
        rest.all(|(l, _)| l.href == *first)
    });
    let mut scores: Vec<Option<f32>> = doc
        .links
        .iter()
        .zip(&scored)
        .map(|(link, s)| {
            let s = (*s)?;
            if s.score.is_none() && !(s.action_path && unique_action == Some(link.href.as_str())) {
                return None;
            }
            let bonus = if unique_action == Some(link.href.as_str()) {
                UNIQUE_ACTION + if subject_intent { UNIQUE_ACTION_ON_TOPIC } else { 0.0 }
            } else {
                0.0
            };
            Some(s.score.unwrap_or(s.base) + bonus)
        })
        .collect();
    // The words before a link can still rule it out. Reading them is the costly part, so they
    // are read only for the link that would win, and again for the next one if it is ruled out.
    let mut is_escape = |i: usize| escape_hatch(&doc.links[i], &mut lowered);
    let (mut score, index) = loop {
        let mut best: Option<(f32, usize)> = None;
        for (i, s) in scores.iter().enumerate() {
            if let Some(s) = *s
                && best.is_none_or(|(b, _)| s > b)
            {
                best = Some((s, i));
            }
        }
        let (s, i) = best?;
        if !is_escape(i) {
            break (s, i);
        }
        scores[i] = None;
    };
    let link = doc.links.get(index)?;
    // The same target again (a button and its copy-paste fallback) adds weight.
    let repeats = doc
        .links
        .iter()
        .zip(&scores)
        .enumerate()
        .filter(|(i, (l, s))| l.href == link.href && s.is_some() && (*i == index || !is_escape(*i)))
        .count();
    score += (repeats.saturating_sub(1).min(2)) as f32;
    if score < THRESHOLD {
        return None;
    }
    let confidence = (0.4 + (score - THRESHOLD) * 0.06).clamp(0.0, 0.95);
    Some(FoundLink { href: link.href.clone(), confidence })
}

/// "If this wasn't you, <reset your password>": the words just before the link make it an
/// escape hatch, not the action. A button alone in its block is introduced by the sentence
/// before it when that sentence ends with a colon ("If this wasn't you, reset it now:").
fn escape_hatch(link: &Link, lowered: &mut Lowered) -> bool {
    let lead = link.lead();
    let lead = if lead.trim().is_empty() && link.context.trim_end().ends_with([':', '：']) {
        let before = link.context.trim_end();
        let end = before.char_indices().rev().find(|&(_, c)| matches!(c, '.' | '!' | '?' | '。'));
        end.map_or(before, |(i, c)| &before[i + c.len_utf8()..])
    } else {
        lead
    };
    has(&WORDS.lead_negative, lower_into(tail_chars(lead, 100), &mut lowered.lead))
}

/// True when the part of a target after its scheme carries something like a token: a path
/// segment or query value of six or more characters with a digit (`code=771204`, a hex or
/// UUID token), or of letters only without the hyphens of a readable slug
/// (`email-verification-explained`): ten or more in mixed case, twenty or more in one case
/// (a word like `notifications` names a page, not a user).
fn has_token(rest: &str) -> bool {
    let path = rest.find('/').map_or(&b""[..], |i| &rest.as_bytes()[i..]);
    // One pass over the bytes, a piece at a time: every link of every message comes here.
    let (mut n, mut digit, mut upper, mut lower, mut hyphen, mut other) = (0, false, false, false, false, false);
    for &b in path.iter().chain(b"/") {
        if matches!(b, b'/' | b'?' | b'&' | b'=' | b'#' | b';' | b'.') {
            // Base64url tokens mix cases and may hold `-` and `_`; a slug is one case with
            // hyphens.
            let mixed = upper && lower;
            let slug = hyphen && !mixed;
            if (n >= 6 && digit) || (!other && !slug && ((n >= 10 && mixed) || n >= 20)) {
                return true;
            }
            (n, digit, upper, lower, hyphen, other) = (0, false, false, false, false, false);
            continue;
        }
        n += 1;
        digit |= b.is_ascii_digit();
        upper |= b.is_ascii_uppercase();
        lower |= b.is_ascii_lowercase();
        hyphen |= b == b'-';
        other |= !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    }
    false
}

/// Added to the one target whose path names an action (see [`find_link`]).
const UNIQUE_ACTION: f32 = 2.0;
/// Added to it again when the subject is about verifying, resetting or signing in: then the
/// link's text may say only "link" ("click this link to confirm") and still be the action.
const UNIQUE_ACTION_ON_TOPIC: f32 = 1.0;

/// One link's evidence.
#[derive(Debug, Clone, Copy)]
struct Scored {
    /// Its score, or `None` when nothing but its target speaks for it.
    score: Option<f32>,
    /// Its score before that last rule, for a target that turns out to be the only action.
    base: f32,
    /// Its path names an action with a token (verify, reset, confirm...).
    action_path: bool,
}

/// The score of one link, or `None` when it cannot be the action, [`escape_hatch`] aside.
fn score(link: &Link, subject_intent: bool, lowered: &mut Lowered) -> Option<Scored> {
    let href_l = lower_into(&link.href, &mut lowered.href);
    if !(href_l.starts_with("https://") || href_l.starts_with("http://")) || link.hidden {
        return None;
    }
    let text_l = lower_into(&link.text, &mut lowered.text);
    let text_is_url = text_l.is_empty() || text_l.starts_with("http") || text_l.starts_with("www.");

    // "Track package", "Manage preferences", "Confirm order": the text says what it is.
    let text_words = if text_is_url { 0 } else { WORDS.text.found(text_l) };
    // The part of the target after the host: a host named "login.example.com" says little.
    // The target starts with its scheme (checked above), so that is where "://" is.
    let rest = &href_l[if href_l.starts_with("https://") { 8 } else { 7 }..];
    let slash = memchr::memchr(b'/', rest.as_bytes());
    let path = slash.map_or("", |i| &rest[i..]);
    let host = slash.map_or(rest, |i| &rest[..i]);
    let path_words = WORDS.path.found(path);
    let action_path = path_words & 0b010 != 0 && path_words & 0b001 == 0;
    // "Change my password" is a security notice's escape hatch, but with a reset token in the
    // target it is the reset itself, which someone is waiting for.
    let reset_text = action_path && !text_is_url && has(&WORDS.password, text_l);
    if text_words & 0b100 != 0 && !reset_text {
        return None;
    }
    let text_strong = text_words & 0b001 != 0 || reset_text;
    let text_weak = text_words & 0b010 != 0;
    if (path_words & 0b001 != 0 || has(&WORDS.social, host)) && !text_strong {
        return None;
    }
    if link.image_only && !text_strong {
        return None;
    }
    // Verifying, confirming, resetting and signing in by link all need a token naming the user;
    // a target without one ("/login", "/account") is a way in, not the action. The target is
    // read as written: case tells a token from a word.
    let written = if link.href.is_ascii() { &link.href[link.href.len() - rest.len()..] } else { rest };
    if !has_token(written) {
        return None;
    }
    // The sentence around a link speaks for it only when its own text says nothing.
    let context_speaks =
        (text_is_url || text_weak) && has(&WORDS.strong, lower_tail(&link.context, 80, &mut lowered.context));
    let url_positive = path_words & 0b110 != 0;

    let mut s = 0.0;
    if text_strong {
        s += 6.0;
    } else if text_weak {
        s += 3.0;
    } else if text_is_url {
        s += 1.0;
    }
    if context_speaks {
        s += 5.0;
    }
    if url_positive {
        s += 3.0;
    }
    if link.button {
        s += 2.0;
    }
    // "Log in" alone is every newsletter's footer.
    let speaks = text_strong || context_speaks || subject_intent;
    Some(Scored { score: speaks.then_some(s), base: s, action_path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_introducing_sentence_in_any_script_is_read_safely() {
        let link = Link {
            href: "https://x.example/reset?k=Ab12Cd34".into(),
            text: "重置".into(),
            context: "密码已更改。如果不是您本人操作，请重置：".into(),
            lead_start: "密码已更改。如果不是您本人操作，请重置：".len(),
            ..Link::default()
        };
        assert!(escape_hatch(&link, &mut Lowered::default()), "the sentence after a full-width full stop is read");
    }

    #[test]
    fn actions_carry_tokens() {
        assert!(has_token("acme.example/verify/ab12cd34ef"));
        assert!(has_token("acme.example/c?token=xyz123abc"));
        assert!(has_token("acme.example/magic?t=abcdefghijklmnopqrstuvwxyz"));
        assert!(has_token("acme.co/v/Zk81q2"), "short links carry short tokens");
        assert!(has_token("acme.example/verify?code=771204"), "the code itself identifies the action");
        assert!(has_token("acme.example/auth/magic?t=AbcDefGhiJkl"));
        assert!(has_token("acme.example/users/confirmation?confirmation_token=uh-pF-DJnoQwErTy"), "base64url");
        assert!(!has_token("acme.example/settings/notifications"), "a page's name is no token");
        assert!(!has_token("blog.example/articles/email-verification-explained"), "a slug is no token");
        assert!(!has_token("acme.example/login"), "a sign-in page names no one");
        assert!(!has_token("acme.example/account/settings?tab=security"));
    }

    #[test]
    fn every_list_is_seen_in_one_pass() {
        assert_eq!(WORDS.text.found("confirm order"), 0b101, "'confirm' is strong, 'order' names something else");
        assert_eq!(WORDS.text.found("sign in to verify"), 0b011, "a strong and a weak phrase overlap");
        assert_eq!(WORDS.text.found("security tips"), 0);
        assert_eq!(WORDS.path.found("/unsubscribe?token=1"), 0b011);
        assert_eq!(WORDS.path.found("/login"), 0b100);
    }
}
