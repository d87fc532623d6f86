//! Code-shaped tokens and the local facts that rule them in or out.
//!
//! A candidate is a 4–9 digit run, a 4–10 character alphanumeric with a digit, an upper-case
//! run of 5–8 letters (Steam Guard style), or a separated form (`123 456`, `123-456`,
//! `12-34-56`, `482-901-337`, `1 2 3 4 5 6`, `QK7-4MX`, `BDFG-HJKM`, `G-123456`). A digit run
//! glued to words on both sides (`is482913Thanks`, what a lost block boundary leaves) is cut
//! out of them. Full-width, Arabic-Indic and Thai digits
//! count as digits and come back as ASCII, which is what the user types.
//!
//! What the token touches rules out most look-alikes before any scoring: a currency sign,
//! currency code or `#` before it (`$1299`, `USD 1299`, `Rs. 45000`), `%` or a unit after it, a decimal or time separator, a date's slashes, a
//! masked card's `****`, a phone number's groups. Labels (order, tracking...) are the scorer's
//! job.

use crate::blocks::Document;

/// Most candidates kept per text.
const MAX_PER_TEXT: usize = 64;
/// Most blocks searched for candidates.
const MAX_BLOCKS_SCANNED: usize = 2_000;

/// The shape of a candidate, which sets how code-like it is before any context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A run of digits, with its length.
    Digits(usize),
    /// Digits in groups (`123 456`, `12-34-56`, `1 2 3 4 5 6`).
    Grouped,
    /// Three groups of three digits (`482-901-337`): a code, or a phone number in some
    /// countries, so only a label decides.
    Grouped9,
    /// Upper-case letters in dashed groups (`BDFG-HJKM`), as generators that drop vowels write.
    LetterGroups,
    /// Upper-case letters and digits (`W7K3D`, `QK7-4MX`).
    AlnumUpper,
    /// Letters of mixed or lower case with digits.
    AlnumMixed,
    /// A letter prefix and digits (`G-123456`); the value is the digits.
    Prefixed,
    /// Upper-case letters only.
    Letters,
    /// Digits in table cells of their own, one per cell.
    Cells,
}

/// A token that could be the code.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The code as the user types it.
    pub value: String,
    /// Index of its block, or [`SUBJECT`] for the subject.
    pub block: usize,
    /// Byte range in the block's text.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
    /// Its shape.
    pub shape: Shape,
    /// A four-digit number that reads as a year (1900–2099).
    pub year_like: bool,
    /// Nothing else readable shares its block.
    pub alone: bool,
    /// Emphasis over the token (0–3).
    pub emphasis: u8,
    /// Sits in hidden text (a preheader).
    pub hidden: bool,
    /// Cut out of a longer run of letters and digits (`is482913Thanks`).
    pub glued: bool,
    /// Lower-case letters then digits (`lina88`): reads as a user name.
    pub handle: bool,
}

/// Block index used for candidates found in the subject.
pub const SUBJECT: usize = usize::MAX;

/// A character normalised for tokenising: ASCII letters and digits as themselves, other
/// digit systems mapped to ASCII.
fn ascii_of(c: char) -> Option<char> {
    if c.is_ascii_alphanumeric() {
        return Some(c);
    }
    let digit = match c as u32 {
        0xFF10..=0xFF19 => c as u32 - 0xFF10,
        0x0660..=0x0669 => c as u32 - 0x0660,
        0x06F0..=0x06F9 => c as u32 - 0x06F0,
        0x0E50..=0x0E59 => c as u32 - 0x0E50,
        0x0966..=0x096F => c as u32 - 0x0966,
        0xFF21..=0xFF3A => return char::from_u32(c as u32 - 0xFF21 + u32::from(b'A')),
        _ => return None,
    };
    char::from_digit(digit, 10)
}

/// An atom's characters as ASCII: the first 16, then `_` when there are more (longer runs are
/// never codes; their length is all that matters). Kept inline: a block has dozens of atoms.
#[derive(Debug, Clone, Copy, Default)]
struct Token {
    bytes: [u8; 17],
    len: u8,
}

impl Token {
    fn push(&mut self, c: u8) {
        if self.len < 16 {
            self.bytes[usize::from(self.len)] = c;
            self.len += 1;
        } else {
            self.bytes[16] = b'_';
            self.len = 17;
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII is pushed.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::ops::Deref for Token {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

#[derive(Debug, Clone)]
struct Atom {
    start: usize,
    end: usize,
    text: Token,
    digits: bool,
    has_digit: bool,
    has_lower: bool,
    has_upper: bool,
    /// Cut out of a longer run (see [`push_unglued`]).
    glued: bool,
}

/// Splits `text` into runs of ASCII-equivalent letters and digits, leaving out words of letters
/// with a lower-case one: they neither join a chain (see [`find`]) nor have a code's shape, and
/// they are most of any text. The cap counts them all the same.
fn atoms(text: &str) -> Vec<Atom> {
    let bytes = text.as_bytes();
    let mut out: Vec<Atom> = Vec::new();
    let mut count = 0usize;
    let mut current: Option<Atom> = None;
    let keep = |atom: &Atom| atom.has_digit || !atom.has_lower;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if current.is_none() && b.is_ascii_alphabetic() {
            // The common case, a plain word: ASCII letters ended by ASCII punctuation or space.
            let (end, lower) = letters_end(bytes, i);
            let next = bytes.get(end);
            if lower && next.is_none_or(|n| n.is_ascii() && !n.is_ascii_digit()) {
                // Left out, but counted when something ends it, as the loop below would.
                if next.is_some() {
                    count += 1;
                    if count >= 4_096 {
                        return out;
                    }
                }
                // What ends it is a space or punctuation, which opens nothing: skipped too.
                i = end + 1;
                continue;
            }
        } else if current.is_none() && b.is_ascii() && !b.is_ascii_digit() {
            // Space or punctuation with no atom open: nothing to end.
            i += 1;
            continue;
        }
        let (ascii, width) = if b.is_ascii() {
            (b.is_ascii_alphanumeric().then_some(b), 1)
        } else {
            let c = text[i..].chars().next().unwrap_or_default();
            (ascii_of(c).map(|a| a as u8), c.len_utf8())
        };
        match ascii {
            Some(a) => {
                let atom = current.get_or_insert_with(|| Atom {
                    start: i,
                    end: i,
                    text: Token::default(),
                    digits: true,
                    has_digit: false,
                    has_lower: false,
                    has_upper: false,
                    glued: false,
                });
                atom.end = i + width;
                atom.text.push(a);
                atom.digits &= a.is_ascii_digit();
                atom.has_digit |= a.is_ascii_digit();
                atom.has_lower |= a.is_ascii_lowercase();
                atom.has_upper |= a.is_ascii_uppercase();
            }
            None => {
                if let Some(atom) = current.take() {
                    count += 1;
                    push_unglued(atom, &mut out, keep);
                    if count >= 4_096 {
                        return out;
                    }
                }
            }
        }
        i += width;
    }
    if let Some(atom) = current {
        push_unglued(atom, &mut out, keep);
    }
    out
}

/// Pushes an atom, or its pieces when it is a code glued to words: a run of four or more digits
/// with a word of two or more letters, one of them lower case, after it or on both sides
/// (`482913Thanks`, `is482913Thanks`), or of six or more after a word (`code482913`). Codes
/// that mix letters and digits do so a character or two at a time (`k7p2qx`, `QK74MX`), and
/// user names end in a few digits (`lina88`, `mike2048`), so neither is cut.
fn push_unglued(atom: Atom, out: &mut Vec<Atom>, keep: impl Fn(&Atom) -> bool) {
    let text = atom.text.as_str();
    let ascii = atom.end - atom.start == text.len();
    if !(ascii && atom.has_digit && atom.has_lower && !atom.digits && text.len() >= 6 && !text.ends_with('_')) {
        if keep(&atom) {
            out.push(atom);
        }
        return;
    }
    let bytes = text.as_bytes();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    for i in 1..=bytes.len() {
        if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[from].is_ascii_digit() {
            runs.push((from, i));
            from = i;
        }
    }
    let wordy = |&(a, b): &(usize, usize)| b - a >= 2 && bytes[a..b].iter().any(u8::is_ascii_lowercase);
    // Words on both sides (`is482913Thanks`), or six digits or more after one (`code482913`):
    // a user name ends in fewer (`mike2048`).
    let cut = runs.iter().enumerate().any(|(k, &(a, b))| {
        let before = k.checked_sub(1).and_then(|p| runs.get(p)).is_some_and(wordy);
        let after = runs.get(k + 1).is_some_and(wordy);
        bytes[a].is_ascii_digit() && b - a >= 4 && (after || (before && b - a >= 6))
    });
    if !cut {
        if keep(&atom) {
            out.push(atom);
        }
        return;
    }
    for (a, b) in runs {
        let mut piece = Atom {
            start: atom.start + a,
            end: atom.start + b,
            text: Token::default(),
            digits: true,
            has_digit: false,
            has_lower: false,
            has_upper: false,
            glued: true,
        };
        for &c in &bytes[a..b] {
            piece.text.push(c);
            piece.digits &= c.is_ascii_digit();
            piece.has_digit |= c.is_ascii_digit();
            piece.has_lower |= c.is_ascii_lowercase();
            piece.has_upper |= c.is_ascii_uppercase();
        }
        if keep(&piece) {
            out.push(piece);
        }
    }
}

/// Where the run of ASCII letters starting at `from` ends, and whether it has a lower-case one.
/// Eight bytes at a time: words are most of any text, and most are shorter than eight letters.
fn letters_end(bytes: &[u8], from: usize) -> (usize, bool) {
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut end = from;
    let mut lower = false;
    while let Some(chunk) = bytes.get(end..end + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // Each byte in lower case and without its high bit, so that adding to it never carries
        // into the next: the high bit of the sums says "at least `a`" and "past `z`".
        let folded = (word | 0x2020_2020_2020_2020) & 0x7f7f_7f7f_7f7f_7f7f;
        let letters = (folded + 0x1f1f_1f1f_1f1f_1f1f) & !(folded + 0x0505_0505_0505_0505) & !word & HIGHS;
        let run = (!letters & HIGHS).trailing_zeros() as usize / 8;
        let before_end = if run == 8 { u64::MAX } else { (1 << (run * 8)) - 1 };
        // A letter is lower case when its 0x20 bit is set; shifted up two, it meets the flag.
        lower |= letters & (word << 2) & before_end != 0;
        end += run;
        if run < 8 {
            return (end, lower);
        }
    }
    while let Some(&c) = bytes.get(end).filter(|c| c.is_ascii_alphabetic()) {
        lower |= c.is_ascii_lowercase();
        end += 1;
    }
    (end, lower)
}

/// Words after a number that make it a quantity, not a code.
const UNITS: &[&str] = &[
    "minutes",
    "minute",
    "mins",
    "min",
    "hours",
    "hour",
    "hrs",
    "hr",
    "seconds",
    "second",
    "secs",
    "sec",
    "days",
    "day",
    "weeks",
    "months",
    "years",
    "am",
    "pm",
    "usd",
    "eur",
    "gbp",
    "rub",
    "jpy",
    "cny",
    "krw",
    "inr",
    "brl",
    "try",
    "vnd",
    "idr",
    "thb",
    "kb",
    "mb",
    "gb",
    "px",
    "pt",
    "points",
    "pts",
    "miles",
    "km",
    "kg",
    "items",
    "orders",
    "people",
    "users",
    "members",
    "reviews",
    "followers",
    "likes",
    "views",
    "times",
    "minuten",
    "stunden",
    "tage",
    "minutos",
    "horas",
    "minuti",
    "ore",
    "minuty",
    "dakika",
    "saat",
    "phút",
    "giờ",
    "menit",
    "jam",
    "minuter",
    "минут",
    "минуты",
    "мин",
    "часов",
    "часа",
    "руб",
    "рублей",
    "₽",
    "дней",
    "分钟",
    "小时",
    "分",
    "元",
    "円",
    "분",
    "초",
    "원",
    "دقائق",
    "دقيقة",
    "นาที",
    "บาท",
    "đ",
    "€",
    "$",
    "£",
];

/// Currency codes and words written before an amount (lower case, without a final dot).
const CURRENCIES: &[&str] = &[
    "usd", "eur", "gbp", "chf", "jpy", "cny", "rmb", "krw", "inr", "rs", "rp", "idr", "brl", "r$", "mxn", "ars", "cop",
    "clp", "pen", "rub", "руб", "uah", "грн", "pln", "zł", "czk", "kč", "huf", "ft", "sek", "nok", "dkk", "kr", "try",
    "tl", "vnd", "thb", "myr", "rm", "php", "sgd", "s$", "hkd", "hk$", "aud", "a$", "cad", "c$", "nzd", "zar", "aed",
    "sar", "egp", "ils", "₪", "ngn", "kes", "us$",
];

/// Characters right after a number that make it a quantity, a date or a time.
fn bad_suffix(c: char) -> bool {
    matches!(
        c,
        '%' | '/'
            | '@'
            | '_'
            | '='
            | '€'
            | '$'
            | '£'
            | '¥'
            | '₫'
            | '₽'
            | '₩'
            | '°'
            | '+'
            | '年'
            | '月'
            | '日'
            | '时'
            | '時'
            | '分'
            | '秒'
            | '号'
            | '號'
            | '번'
            | '개'
            | '명'
            | '원'
            | '元'
            | '円'
            | '¢'
            | '％'
            | '￥'
    )
}

/// Characters right before a number that make it an amount, a reference or part of an address.
fn bad_prefix(c: char) -> bool {
    matches!(
        c,
        '#' | '$'
            | '€'
            | '£'
            | '¥'
            | '₹'
            | '₽'
            | '₩'
            | '₺'
            | '₫'
            | '+'
            | '@'
            | '/'
            | '\\'
            | '*'
            | '•'
            | '●'
            | '·'
            | '№'
            | '='
            | '_'
            | '&'
            | '?'
            | '%'
            | '￥'
            | '＃'
            | '~'
            | '^'
            | '¢'
    )
}

/// Finds candidates in one text. `block` is its index (or [`SUBJECT`]).
pub fn find(text: &str, block: usize) -> Vec<Candidate> {
    let atoms = atoms(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < atoms.len() && out.len() < MAX_PER_TEXT {
        // Grow a chain of atoms joined by single spaces or hyphens.
        let mut j = i;
        let mut separators = Vec::new();
        while j + 1 < atoms.len() {
            let gap = &text[atoms[j].end..atoms[j + 1].start];
            let sep = match gap {
                " " | "\u{a0}" => ' ',
                "-" | "–" | "‑" => '-',
                _ => break,
            };
            let (a, b) = (&atoms[j], &atoms[j + 1]);
            let joinable = if sep == ' ' {
                a.digits && b.digits
            } else {
                !a.has_lower
                    && !b.has_lower
                    && (a.has_digit || b.has_digit || a.text.len() <= 3 || (a.text.len() <= 5 && b.text.len() <= 5))
            };
            if !joinable {
                break;
            }
            separators.push(sep);
            j += 1;
        }
        let chain = &atoms[i..=j];
        let glued = chain.iter().any(|a| a.glued);
        for (value, start, end, shape) in chain_candidates(chain, &separators) {
            if let Some(mut c) = checked(text, block, value, start, end, shape) {
                c.glued = glued;
                out.push(c);
            }
        }
        i = j + 1;
    }
    out
}

/// The candidates a chain of atoms yields: itself when it has a code's separated shape, else
/// its atoms one by one, or nothing when it reads as a phone or ID number.
fn chain_candidates(chain: &[Atom], separators: &[char]) -> Vec<(String, usize, usize, Shape)> {
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return Vec::new();
    };
    if chain.len() == 1 {
        return single(first).into_iter().collect();
    }
    let same_sep = separators.windows(2).all(|w| w[0] == w[1]);
    let lens: Vec<usize> = chain.iter().map(|a| a.text.len()).collect();
    let joined: String = chain.iter().map(|a| a.text.as_str()).collect();
    let total = joined.len();
    if chain.iter().all(|a| a.digits) {
        let ok = same_sep
            && ((lens.iter().all(|&l| l == 1) && (4..=8).contains(&total))
                || matches!(lens.as_slice(), [3, 3] | [4, 4] | [2, 2, 2] | [2, 2, 2, 2] | [3, 3, 3]));
        if ok && lens.as_slice() == [3, 3, 3] {
            return vec![(joined, first.start, last.end, Shape::Grouped9)];
        }
        if ok && total <= 9 {
            return vec![(joined, first.start, last.end, Shape::Grouped)];
        }
        if total >= 7 || chain.len() > 2 {
            // Phone numbers, meeting IDs, dates written with hyphens.
            return Vec::new();
        }
        return chain.iter().filter_map(single).collect();
    }
    // Letters and digits joined by hyphens.
    if chain.len() == 2
        && !first.has_digit
        && first.text.len() <= 3
        && first.has_upper
        && last.digits
        && (4..=8).contains(&last.text.len())
    {
        return vec![(last.text.to_string(), first.start, last.end, Shape::Prefixed)];
    }
    let has_digit = chain.iter().any(|a| a.has_digit);
    if !has_digit
        && same_sep
        && separators.first() == Some(&'-')
        && chain.len() <= 3
        && chain.iter().all(|a| a.has_upper && !a.has_lower)
        && lens.iter().all(|&l| (3..=5).contains(&l))
    {
        return vec![(joined, first.start, last.end, Shape::LetterGroups)];
    }
    if chain.len() <= 3 && has_digit && (4..=10).contains(&total) && lens.iter().all(|&l| (2..=5).contains(&l)) {
        return vec![(joined, first.start, last.end, Shape::AlnumUpper)];
    }
    if total > 12 {
        return Vec::new();
    }
    chain.iter().filter_map(single).collect()
}

/// A lone atom as a candidate, if it has a code's shape.
fn single(atom: &Atom) -> Option<(String, usize, usize, Shape)> {
    let len = atom.text.len();
    let shape = if atom.digits {
        if !(4..=9).contains(&len) {
            return None;
        }
        Shape::Digits(len)
    } else if atom.has_digit {
        if !(4..=10).contains(&len) {
            return None;
        }
        // Number with a unit or ordinal stuck to it: 10min, 2nd, 1080p, 24h.
        let digits_end = atom.text.find(|c: char| !c.is_ascii_digit()).unwrap_or(len);
        if digits_end > 0 && atom.text[digits_end..].chars().all(|c| c.is_ascii_lowercase()) {
            return None;
        }
        // Masked numbers: xxxx1234, XXXX-1234.
        if atom.text.to_ascii_lowercase().contains("xxx") {
            return None;
        }
        if atom.has_lower { Shape::AlnumMixed } else { Shape::AlnumUpper }
    } else if atom.has_upper && !atom.has_lower && (5..=8).contains(&len) {
        Shape::Letters
    } else {
        return None;
    };
    Some((atom.text.to_string(), atom.start, atom.end, shape))
}

/// Applies the look-alike rules around a token; returns the candidate when it survives.
fn checked(text: &str, block: usize, value: String, start: usize, end: usize, shape: Shape) -> Option<Candidate> {
    let before = &text[..start];
    let after = &text[end..];
    let prev = before.chars().next_back();
    let prev2 = before.chars().rev().nth(1);
    let next = after.chars().next();
    let next2 = after.chars().nth(1);

    if prev.is_some_and(bad_prefix) || next.is_some_and(bad_suffix) {
        return None;
    }
    // Decimal, time and date separators joining numbers: 1,299.00  10:30  12.05.2024
    let digitish = |c: Option<char>| c.is_some_and(|c| ascii_of(c).is_some_and(|a| a.is_ascii_digit()));
    if matches!(prev, Some('.' | ',' | ':' | '/' | '-')) && digitish(prev2) {
        return None;
    }
    if matches!(next, Some('.' | ',' | ':' | '/' | '-' | '\'')) && digitish(next2) {
        return None;
    }
    // Parts of URLs, e-mail addresses and file names.
    if matches!(prev, Some('.' | '-' | ':'))
        && prev2.is_some_and(|c| c.is_ascii_alphanumeric())
        && !matches!(shape, Shape::Digits(_))
    {
        return None;
    }
    // A file name or host (`report.pdf`, `x2.example`); a run of digits before a capital is
    // the end of a sentence whose space was lost (`482913.Please`).
    if next == Some('.')
        && next2.is_some_and(|c| c.is_ascii_alphabetic())
        && !(matches!(shape, Shape::Digits(_)) && next2.is_some_and(|c| c.is_ascii_uppercase()))
    {
        return None;
    }
    // Masked card numbers and phone area codes: **** 4821, •••• 4821, (555) 1234.
    let back: String = before.chars().rev().take(4).collect();
    if back.contains(['*', '•', '●', '·', ')', '）', 'x', 'X'])
        && back.trim_start().starts_with(['*', '•', '●', '·', ')', '）', 'x', 'X'])
    {
        return None;
    }
    // A unit after a space: "15 minutes", "1299 USD".
    let word: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphabetic() || matches!(c, '₽' | '€' | '$' | '£'))
        .take(12)
        .collect::<String>()
        .to_lowercase();
    if !word.is_empty() && UNITS.contains(&word.as_str()) {
        return None;
    }
    // An amount after a currency word or a sign set apart by a space: "USD 1299", "€ 4500".
    let word_before: String = before
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| !c.is_whitespace())
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_lowercase();
    let word_before = word_before.trim_end_matches([':', '.']);
    if before.ends_with(' ')
        && (CURRENCIES.contains(&word_before)
            || word_before.ends_with(['$', '€', '£', '¥', '₹', '₽', '₩', '₺', '₫', '￥', '¢', '₪']))
    {
        return None;
    }
    let year_like = matches!(shape, Shape::Digits(4)) && value.parse::<u32>().is_ok_and(|y| (1900..=2099).contains(&y));
    let handle = shape == Shape::AlnumMixed && {
        let letters = value.bytes().take_while(u8::is_ascii_lowercase).count();
        letters >= 3 && value.bytes().skip(letters).all(|b| b.is_ascii_digit())
    };
    Some(Candidate {
        value,
        block,
        start,
        end,
        shape,
        year_like,
        alone: false,
        emphasis: 0,
        hidden: false,
        glued: false,
        handle,
    })
}

/// True when nothing readable but the token shares the text.
fn alone(text: &str, start: usize, end: usize) -> bool {
    let rest = text[..start].chars().chain(text[end..].chars());
    rest.filter(|c| c.is_alphanumeric()).count() == 0
}

/// All candidates of a document: per block, plus codes split one character per cell.
pub fn find_in_document(doc: &Document) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    for (index, block) in doc.blocks.iter().enumerate().take(MAX_BLOCKS_SCANNED) {
        let text = block.text.as_str();
        let mut chars = text.chars();
        let one_char = matches!((chars.next(), chars.next()), (Some(c), None) if ascii_of(c).is_some());
        if one_char && !block.hidden {
            run.push(index);
            continue;
        }
        flush_cells(doc, &mut run, &mut out);
        // Codes without a digit (Steam's letters) stand alone, so only short blocks can hold one.
        // ...or write them in dashed groups (`KMPT-RVWX`).
        let dashed = || text.as_bytes().windows(2).any(|w| w[0].is_ascii_uppercase() && w[1] == b'-');
        if text.len() > 16 && !text.chars().any(|c| ascii_of(c).is_some_and(|a| a.is_ascii_digit())) && !dashed() {
            continue;
        }
        for mut c in find(text, index) {
            c.alone = alone(text, c.start, c.end);
            c.emphasis = block.emphasis_at(c.start, c.end);
            c.hidden = block.hidden;
            out.push(c);
        }
    }
    flush_cells(doc, &mut run, &mut out);
    out
}

/// Turns a run of one-character cells into a candidate when it is code-length.
fn flush_cells(doc: &Document, run: &mut Vec<usize>, out: &mut Vec<Candidate>) {
    if (4..=8).contains(&run.len()) {
        let value: String = run
            .iter()
            .filter_map(|&i| doc.blocks.get(i).and_then(|b| b.text.chars().next()).and_then(ascii_of))
            .collect();
        let emphasis = run.iter().filter_map(|&i| doc.blocks.get(i)).map(|b| b.emphasis_at(0, b.text.len())).max();
        if let Some(&first) = run.first() {
            out.push(Candidate {
                value,
                block: first,
                start: 0,
                end: doc.blocks.get(first).map_or(0, |b| b.text.len()),
                shape: Shape::Cells,
                year_like: false,
                alone: true,
                emphasis: emphasis.unwrap_or(0),
                hidden: false,
                glued: false,
                handle: false,
            });
        }
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        find(text, 0).into_iter().map(|c| c.value).collect()
    }

    #[test]
    fn shapes() {
        assert_eq!(values("Your code: 048 213"), vec!["048213"]);
        assert_eq!(values("12-34-56"), vec!["123456"]);
        assert_eq!(values("1 2 3 4 5 6"), vec!["123456"]);
        assert_eq!(values("QK7-4MX"), vec!["QK74MX"]);
        assert_eq!(values("G-123456 is your code"), vec!["123456"]);
        assert_eq!(values("验证码：１２３４５６"), vec!["123456"]);
        assert_eq!(values("W7K3D"), vec!["W7K3D"]);
        assert_eq!(values("482-901-337"), vec!["482901337"]);
        assert_eq!(values("BDFG-HJKM"), vec!["BDFGHJKM"]);
        assert_eq!(values("Code:518290"), vec!["518290"]);
        assert_eq!(values("k7p2qx"), vec!["k7p2qx"]);
        assert_eq!(values("Your code is482913Thanks"), vec!["482913"]);
        assert_eq!(values("Hi mike2048"), vec!["mike2048"], "a user name is not cut");
        assert_eq!(values("Your code is 482913.Please enter it"), vec!["482913"]);
        assert_eq!(values("123456789"), vec!["123456789"]);
    }

    #[test]
    fn letter_runs_eight_bytes_at_a_time() {
        let texts =
            ["", "a", "Hello, world", "abcdefghijklmnopqrstuvwxyz0", "ABCDEFGHIJ", "@[`{_", "ÄbcdefghÖ", "abcdefgh"];
        for text in texts {
            let bytes = text.as_bytes();
            for from in 0..bytes.len() {
                let end = from + bytes[from..].iter().take_while(|b| b.is_ascii_alphabetic()).count();
                let lower = bytes[from..end].iter().any(u8::is_ascii_lowercase);
                assert_eq!(letters_end(bytes, from), (end, lower), "{text:?} from {from}");
            }
        }
        for b in 0..=255u8 {
            let bytes = [b; 9];
            let end = if b.is_ascii_alphabetic() { 9 } else { 0 };
            assert_eq!(letters_end(&bytes, 0), (end, b.is_ascii_lowercase()), "byte {b:#x}");
        }
    }

    #[test]
    fn look_alikes() {
        for text in [
            "$1299",
            "1,299.00",
            "12.05.2024",
            "10:30",
            "#483920",
            "expires in 1440 minutes",
            "call 555-123-4567",
            "+1 415 555 0199",
            "**** 4821",
            "2024-05-12",
            "50%",
            "1080p",
            "Meeting ID: 123 456 7890",
            "30px",
            "Total: USD 1299",
            "€ 4500",
            "Rs. 45000",
        ] {
            assert!(values(text).is_empty(), "{text:?} has no code, got {:?}", values(text));
        }
    }
}
