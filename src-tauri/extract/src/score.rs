//! Picks the code: each candidate is scored on its shape, the nearest label, emphasis, whether it
//! stands alone, the subject and its position; the best value wins only when it clears a
//! threshold and no other value comes close. Otherwise there is no code: a missed code costs a
//! wait, a wrong one costs a failed sign-up.
//!
//! The nearest label decides: "Order number: 483920" is not a code even in a mail that also says
//! "verification code" elsewhere, and "Passcode: 482913" is a code unless the mail is about a
//! meeting. Labels in the block before count too, since templates put the label and the code in
//! separate cells; so does the subject's label for a value that stands alone or large. A
//! one-line message may have no label, only a verb ("Enter 471902") or what the number is for
//! ("Use 482913 to verify").
//!
//! Every part of a score is a named [`Feature`] with its weight in one table, so that
//! `--explain` can say why a value won and the weights can be refitted in one place.

use crate::blocks::Document;
use crate::candidates::{self, Candidate, SUBJECT, Shape};
use crate::keywords::{self, Hit, Kind};

/// Score a value needs to be returned.
pub const THRESHOLD: f32 = 7.0;
/// Two values closer than this are a tie, and a tie returns no code.
pub const TIE: f32 = 0.5;
/// Most blocks whose labels are read.
const MAX_BLOCKS_LABELLED: usize = 2_000;
/// Visible text up to this many characters is a short message (an SMS-style notification).
const SHORT_MESSAGE_CHARS: usize = 320;

/// What counts for or against a candidate. Each has one weight in [`Feature::weight`], times a
/// factor: 1 for a yes-or-no feature, the label's strength by kind and distance, the emphasis
/// level, the distance from the top. A candidate's score is the sum of the parts, which
/// `--explain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// Six digits, or one digit per table cell: the shape most generators use.
    ShapeSix,
    /// Four, five or seven digits.
    ShapeDigits,
    /// Eight digits: also a date or an account number.
    ShapeEight,
    /// Nine digits, run together or in three groups: also a phone number.
    ShapeNine,
    /// Digits in groups, or a letter prefix and digits (`G-123456`).
    ShapeGrouped,
    /// Upper-case letters and digits.
    ShapeAlnumUpper,
    /// Letters of mixed or lower case with digits.
    ShapeAlnumMixed,
    /// Upper-case letters only.
    ShapeLetters,
    /// Upper-case letters in dashed groups.
    ShapeLetterGroups,
    /// A code label nearby ("verification code", "код", "認証コード"), before or after.
    Label,
    /// The candidate stands alone in its block and something else (a label, emphasis) backs it.
    AloneBacked,
    /// The candidate stands alone in its block, nothing else backs it.
    Alone,
    /// Bold, large, spaced or monospaced.
    Emphasis,
    /// Nearer the top of the body.
    Position,
    /// The same value is in the subject.
    InSubject,
    /// The same value again (preheader, subject, a second part).
    Repeated,
    /// The whole message is a sentence or two and this is its only code-shaped token.
    ShortMessage,
    /// In a short message, its sentence says what it is for (verify, sign in, reset...).
    ShortIntent,
    /// Letters without vowels: generators drop them so that no code spells a word.
    NoVowels,
    /// In hidden text (a preheader): supports a value, never wins alone.
    Hidden,
    /// Four digits that read as a year.
    YearLike,
    /// Cut out of words it was glued to.
    Glued,
}

impl Feature {
    /// The weight table. The shapes set a prior, the label and emphasis carry most of the
    /// decision; the threshold ([`THRESHOLD`]) sits where a six-digit token needs a label or
    /// a label-less one needs emphasis, isolation and a short message together.
    pub const fn weight(self) -> f32 {
        match self {
            Feature::ShapeSix => 3.0,
            Feature::ShapeDigits => 2.5,
            Feature::ShapeEight => 2.0,
            Feature::ShapeNine => 1.8,
            Feature::ShapeGrouped => 2.8,
            Feature::ShapeAlnumUpper => 2.2,
            Feature::ShapeAlnumMixed => 1.2,
            Feature::ShapeLetters => 0.8,
            Feature::ShapeLetterGroups => 1.8,
            Feature::Label => 1.0,
            Feature::AloneBacked => 2.0,
            Feature::Alone => 0.5,
            Feature::Emphasis => 1.0,
            Feature::Position => 0.8,
            Feature::InSubject => 3.0,
            Feature::Repeated => 0.4,
            Feature::ShortMessage => 1.5,
            Feature::ShortIntent => 3.0,
            Feature::NoVowels => 1.0,
            Feature::Hidden => -1.5,
            Feature::YearLike => -4.0,
            Feature::Glued => -0.5,
        }
    }

    /// The name `--explain` prints.
    pub const fn name(self) -> &'static str {
        match self {
            Feature::ShapeSix => "shape: six digits",
            Feature::ShapeDigits => "shape: digits",
            Feature::ShapeEight => "shape: eight digits",
            Feature::ShapeNine => "shape: nine digits",
            Feature::ShapeGrouped => "shape: grouped digits",
            Feature::ShapeAlnumUpper => "shape: upper-case letters and digits",
            Feature::ShapeAlnumMixed => "shape: mixed-case letters and digits",
            Feature::ShapeLetters => "shape: letters",
            Feature::ShapeLetterGroups => "shape: dashed letter groups",
            Feature::Label => "code label nearby",
            Feature::AloneBacked => "stands alone, backed",
            Feature::Alone => "stands alone",
            Feature::Emphasis => "emphasis",
            Feature::Position => "position",
            Feature::InSubject => "also in the subject",
            Feature::Repeated => "repeated",
            Feature::ShortMessage => "short message, only candidate",
            Feature::ShortIntent => "short message says what it is for",
            Feature::NoVowels => "letters without vowels",
            Feature::Hidden => "hidden text",
            Feature::YearLike => "reads as a year",
            Feature::Glued => "glued to words",
        }
    }
}

/// A score and the features that made it, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Breakdown {
    /// Each feature with what it added.
    pub parts: Vec<(Feature, f32)>,
}

impl Breakdown {
    fn add(&mut self, feature: Feature, times: f32) {
        let v = feature.weight() * times;
        if v != 0.0 {
            self.parts.push((feature, v));
        }
    }

    /// The sum of the parts.
    pub fn total(&self) -> f32 {
        self.parts.iter().map(|(_, v)| v).sum()
    }
}

/// Where a candidate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The subject line.
    Subject,
    /// Visible body text.
    Body,
    /// Hidden body text (a preheader).
    Hidden,
}

/// One value that was considered, with its best score.
#[derive(Debug, Clone, PartialEq)]
pub struct Considered {
    /// The code as the user types it.
    pub value: String,
    /// Best score over its occurrences, repeats included.
    pub score: f32,
    /// 0 to 1, from the score alone.
    pub confidence: f32,
    /// Where its best occurrence is.
    pub source: Source,
    /// Block of the best occurrence (none for the subject).
    pub block: Option<usize>,
    /// The text around the best occurrence, at most [`CONTEXT_CHARS`] characters each side.
    pub context: String,
    /// The features of the best occurrence, then the repeats.
    pub breakdown: Breakdown,
}

/// Characters of context kept each side of a considered value.
pub const CONTEXT_CHARS: usize = 40;

/// The chosen code.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    /// The code as the user types it.
    pub value: String,
    /// 0 to 1.
    pub confidence: f32,
    /// The raw score, for reports.
    pub score: f32,
}

/// The outcome for one message: the code, if one value clearly wins, and every value that
/// scored, best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// The winner, or `None` when nothing clears the threshold or two values tie.
    pub code: Option<Code>,
    /// Values with a score, best first (ties in the order found).
    pub considered: Vec<Considered>,
}

/// What the whole message is about, which changes what some labels mean.
#[derive(Debug, Clone, Copy, Default)]
struct Context {
    /// A meeting or call: "passcode" and "PIN" are for joining it.
    meeting: bool,
    /// Selling something: a bare "code" is a promo code.
    promo: bool,
    /// A trip or booking: a "confirmation code" is a booking reference.
    travel: bool,
    /// Weight of the strongest code label in the subject ("Your verification code"), which
    /// speaks for a value that stands alone or large in the body.
    subject_label: f32,
}

impl Context {
    fn effective(self, kind: Kind) -> Kind {
        match kind {
            Kind::Pass if self.meeting => Kind::Negative,
            Kind::Generic | Kind::Weak | Kind::Verb if self.promo || self.travel => Kind::Negative,
            k => k,
        }
    }
}

/// How much a label of each kind says, before distance.
fn weight(kind: Kind) -> f32 {
    match kind {
        Kind::Strong => 6.0,
        Kind::Weak => 5.0,
        Kind::Pass => 4.5,
        Kind::Generic => 4.0,
        Kind::Verb => 3.5,
        _ => 0.0,
    }
}

/// The labels of the first [`MAX_BLOCKS_LABELLED`] blocks in one vector, block by block: a
/// vector per block would be an allocation per block.
struct BlockLabels {
    hits: Vec<Hit>,
    /// Where each block's labels end in `hits`.
    ends: Vec<usize>,
}

impl BlockLabels {
    fn of(doc: &Document) -> BlockLabels {
        let mut labels = BlockLabels { hits: Vec::new(), ends: Vec::with_capacity(doc.blocks.len()) };
        for block in doc.blocks.iter().take(MAX_BLOCKS_LABELLED) {
            keywords::scan_into(&block.text, &mut labels.hits);
            labels.ends.push(labels.hits.len());
        }
        labels
    }

    /// The labels of block `index`, in order.
    fn get(&self, index: usize) -> Option<&[Hit]> {
        let end = *self.ends.get(index)?;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i]);
        self.hits.get(start..end)
    }
}

/// Finds the code in a message, or `None` when no value is clearly one.
pub fn find_code(subject: &str, doc: &Document) -> Option<Code> {
    judge(subject, doc).code
}

/// The text around `start..end`, [`CONTEXT_CHARS`] characters each side.
fn context_of(text: &str, start: usize, end: usize) -> String {
    let before = text.get(..start).unwrap_or("");
    let from = before.char_indices().rev().nth(CONTEXT_CHARS - 1).map_or(0, |(i, _)| i);
    let after = text.get(end..).unwrap_or("");
    let to = end + after.char_indices().nth(CONTEXT_CHARS).map_or(after.len(), |(i, _)| i);
    text.get(from..to).unwrap_or("").to_string()
}

/// 0 to 1 from a score: 0.45 at the threshold, rising with the margin over it and, for the
/// winner, with its lead over the next value.
fn confidence(score: f32, lead: f32) -> f32 {
    let c = (0.45 + (score - THRESHOLD) * 0.05 + lead.min(6.0) * 0.05).clamp(0.0, 0.99);
    (c * 100.0).round() / 100.0
}

/// Scores every candidate of a message and decides on the code.
pub fn judge(subject: &str, doc: &Document) -> Verdict {
    let subject_hits = keywords::scan(subject);
    let block_hits = BlockLabels::of(doc);

    let all = || subject_hits.iter().chain(&block_hits.hits);
    let mut ctx = Context {
        meeting: all().any(|h| h.kind == Kind::Meeting),
        promo: all().filter(|h| h.kind == Kind::Promo).count() >= 2,
        travel: all().filter(|h| h.kind == Kind::Travel).count() >= 2,
        subject_label: 0.0,
    };
    ctx.subject_label = subject_hits
        .iter()
        .map(|h| ctx.effective(h.kind))
        .filter(|k| k.is_code_label() && *k != Kind::Verb)
        .map(weight)
        .fold(0.0, f32::max);
    let labelled = all().any(|h| ctx.effective(h.kind).is_code_label());
    let visible_chars: usize =
        doc.blocks.iter().filter(|b| !b.hidden).map(|b| b.text.len() + 1).sum::<usize>() + subject.len();
    // A one-line notification may name no code at all, only what it is for: "Use 482913 to
    // verify your account", "Sign in with 480114".
    let brief = visible_chars <= SHORT_MESSAGE_CHARS;
    let speaks = |text: &str| brief && crate::links::names_action(text);
    if !labelled && !doc.blocks.iter().any(|b| !b.hidden && speaks(&b.text)) {
        return Verdict::default();
    }

    let mut scored: Vec<(Candidate, Breakdown, Source)> = Vec::new();
    for c in candidates::find(subject, SUBJECT) {
        // A user name or a token cut out of words in the subject is the recipient's, not a code.
        if c.glued || c.handle {
            continue;
        }
        if let Some(b) = score(&c, subject, &subject_hits, None, ctx) {
            scored.push((c, b, Source::Subject));
        }
    }
    let subject_values: Vec<String> = scored.iter().map(|(c, _, _)| c.value.clone()).collect();
    let found = candidates::find_in_document(doc);
    let short = brief && {
        let mut values = found.iter().filter(|c| !c.hidden).map(|c| c.value.as_str());
        values.next().is_some_and(|first| values.all(|v| v == first))
    };
    let n = doc.blocks.len().max(1) as f32;
    for c in found {
        let Some(text) = doc.blocks.get(c.block).map(|b| b.text.as_str()) else { continue };
        let hits = block_hits.get(c.block).unwrap_or(&[]);
        let Some(mut b) = score(&c, text, hits, Some((doc, &block_hits)), ctx) else { continue };
        if doc.from_html {
            b.add(Feature::Emphasis, [0.0, 1.2, 2.4, 3.0][usize::from(c.emphasis.min(3))]);
        }
        b.add(Feature::Position, 1.0 - c.block as f32 / n);
        if subject_values.contains(&c.value) {
            b.add(Feature::InSubject, 1.0);
        }
        if short && !c.hidden {
            b.add(Feature::ShortMessage, 1.0);
            if speaks(text) {
                b.add(Feature::ShortIntent, 1.0);
            }
        }
        let source = if c.hidden { Source::Hidden } else { Source::Body };
        scored.push((c, b, source));
    }

    // Best score per value, with a little credit for repeats (preheader, subject, body).
    // Hidden text (a preheader) supports a value the reader sees but never wins alone.
    let mut values: Vec<(usize, usize)> = Vec::new(); // (index of best in `scored`, count)
    for (i, (c, b, _)) in scored.iter().enumerate().filter(|(_, (c, _, _))| !c.hidden) {
        match values.iter_mut().find(|(best, _)| scored[*best].0.value == c.value) {
            Some((best, count)) => {
                if b.total() > scored[*best].1.total() {
                    *best = i;
                }
                *count += 1;
            }
            None => values.push((i, 1)),
        }
    }
    for (c, _, _) in scored.iter().filter(|(c, _, _)| c.hidden) {
        if let Some((_, count)) = values.iter_mut().find(|(best, _)| scored[*best].0.value == c.value) {
            *count += 1;
        }
    }
    let mut considered: Vec<Considered> = values
        .into_iter()
        .map(|(best, count)| {
            let (c, b, source) = &scored[best];
            let mut breakdown = b.clone();
            breakdown.add(Feature::Repeated, (count.saturating_sub(1).min(2)) as f32);
            let score = breakdown.total();
            let (block, text) = match source {
                Source::Subject => (None, subject),
                _ => (Some(c.block), doc.blocks.get(c.block).map_or("", |b| b.text.as_str())),
            };
            Considered {
                value: c.value.clone(),
                score,
                confidence: confidence(score, 0.0),
                source: *source,
                block,
                context: context_of(text, c.start, c.end),
                breakdown,
            }
        })
        .collect();
    // Stable: equal scores keep the order found, so the output never depends on anything else.
    considered.sort_by(|a, b| b.score.total_cmp(&a.score));

    let code = considered.first().and_then(|best| {
        if best.score < THRESHOLD {
            return None;
        }
        let second = considered.get(1).map_or(0.0, |t| t.score);
        if second >= THRESHOLD && best.score - second < TIE {
            return None;
        }
        Some(Code {
            value: best.value.clone(),
            confidence: confidence(best.score, best.score - second),
            score: best.score,
        })
    });
    Verdict { code, considered }
}

/// Characters between two byte offsets.
fn chars_between(text: &str, from: usize, to: usize) -> usize {
    text.get(from..to).map_or(usize::MAX, |s| s.chars().count())
}

/// True when the text between a label and a number is only glue ("#", ":", "no.", "is").
fn adjacent(gap: &str) -> bool {
    let gap = gap.trim();
    if gap.chars().count() > 16 || gap.contains(['!', '?', '。', '！', '？']) || gap.bytes().any(|b| b.is_ascii_digit())
    {
        return false;
    }
    gap.split_whitespace().count() <= 2
}

/// Label evidence for a candidate in `text`, plus blocks around it when given. `None` rules
/// the candidate out (a label says it is something else).
fn label_gain(
    c: &Candidate,
    text: &str,
    hits: &[Hit],
    around: Option<(&Document, &BlockLabels)>,
    ctx: Context,
) -> Option<f32> {
    let mut gain: f32 = 0.0;
    // Labels before it in its own block.
    let before: Vec<(Hit, Kind)> =
        hits.iter().filter(|h| h.end <= c.start).map(|h| (*h, ctx.effective(h.kind))).collect();
    if let Some((nearest, kind)) = before.last()
        && *kind == Kind::Negative
        && adjacent(text.get(nearest.end..c.start).unwrap_or(""))
    {
        // "Use this code to verify your account: 123456" still labels a code.
        let rescued = before
            .iter()
            .rev()
            .skip(1)
            .any(|(h, k)| matches!(k, Kind::Strong | Kind::Weak) && nearest.start.saturating_sub(h.end) <= 60);
        if !rescued {
            return None;
        }
    }
    // A verb labels only the token right after it: "Enter 471902".
    let positive =
        |(h, k): &&(Hit, Kind)| k.is_code_label() && (*k != Kind::Verb || chars_between(text, h.end, c.start) <= 2);
    if let Some((h, kind)) = before.iter().rev().find(positive) {
        let d = chars_between(text, h.end, c.start);
        let decay = match d {
            0..=3 => 1.0,
            4..=30 => 0.9,
            31..=80 => 0.6,
            81..=200 => 0.3,
            _ => 0.0,
        };
        gain = gain.max(weight(*kind) * decay);
    }
    // Labels right after it: "483920 is your verification code".
    if let Some(h) = hits.iter().find(|h| h.start >= c.end) {
        let kind = ctx.effective(h.kind);
        let d = chars_between(text, c.end, h.start);
        if kind.is_code_label() && kind != Kind::Verb && d <= 30 {
            gain = gain.max(weight(kind) * 0.85);
        } else if kind == Kind::Negative && d <= 3 {
            gain -= 3.0;
        }
    }
    let Some((doc, block_hits)) = around else {
        return Some(gain);
    };
    // Labels in the blocks before: the label cell above the code cell, the sentence that
    // introduces a code on its own line.
    if before.iter().all(|(_, k)| !k.is_code_label()) {
        let hidden = doc.blocks.get(c.block).is_some_and(|b| b.hidden);
        let mut step = 0;
        let mut index = c.block;
        let mut between = 0usize;
        while index > 0 && step < 3 {
            index -= 1;
            let Some(block) = doc.blocks.get(index) else { break };
            if block.hidden != hidden {
                continue;
            }
            step += 1;
            let hits = block_hits.get(index).unwrap_or(&[]);
            let labels = || hits.iter().filter(|h| ctx.effective(h.kind) != Kind::Verb);
            if labels().next().is_none() {
                between += block.text.len();
                continue;
            }
            let last_positive = labels().rfind(|h| ctx.effective(h.kind).is_code_label());
            let negative_label = labels().any(|h| ctx.effective(h.kind) == Kind::Negative)
                && last_positive.is_none()
                && block.text.chars().count() <= 40;
            if negative_label && step == 1 {
                return None;
            }
            if let Some(h) = last_positive {
                let factor = [0.85, 0.7, 0.5][step - 1] * if between > 200 { 0.5 } else { 1.0 };
                gain = gain.max(weight(ctx.effective(h.kind)) * factor);
            }
            break;
        }
    }
    // A code that stands alone or large, with nothing around it, in a mail whose subject names
    // a code: "Your verification code" / "Here you go:" / "483920".
    if gain <= 0.0 && (c.alone || c.emphasis >= 2) {
        gain = ctx.subject_label * 0.6;
    }
    // A label in the block after a code that stands alone: "483920" / "Enter this code...".
    if gain <= 0.0 && c.alone {
        let next =
            (c.block + 1..doc.blocks.len().min(c.block + 3)).find(|&i| doc.blocks.get(i).is_some_and(|b| !b.hidden));
        if let Some(h) = next.and_then(|i| block_hits.get(i)).and_then(|hits| hits.first()) {
            let kind = ctx.effective(h.kind);
            if kind.is_code_label() && kind != Kind::Verb {
                gain = weight(kind) * 0.6;
            }
        }
    }
    Some(gain)
}

/// The features of one candidate from its shape and labels (emphasis and position are added by
/// the caller, which knows the document). `None` rules it out.
fn score(
    c: &Candidate,
    text: &str,
    hits: &[Hit],
    around: Option<(&Document, &BlockLabels)>,
    ctx: Context,
) -> Option<Breakdown> {
    let gain = label_gain(c, text, hits, around, ctx)?;
    let shape = match c.shape {
        Shape::Digits(6) | Shape::Cells => Feature::ShapeSix,
        Shape::Digits(8) => Feature::ShapeEight,
        Shape::Digits(9) | Shape::Grouped9 => Feature::ShapeNine,
        Shape::Digits(_) => Feature::ShapeDigits,
        Shape::Grouped | Shape::Prefixed => Feature::ShapeGrouped,
        Shape::AlnumUpper => Feature::ShapeAlnumUpper,
        Shape::AlnumMixed => Feature::ShapeAlnumMixed,
        Shape::Letters => Feature::ShapeLetters,
        Shape::LetterGroups => Feature::ShapeLetterGroups,
    };
    // Shapes that are words or names more often than codes need a label right there; nine
    // digits need one to tell them from a phone number.
    match c.shape {
        Shape::AlnumUpper | Shape::AlnumMixed | Shape::LetterGroups if gain < 3.0 => return None,
        Shape::Digits(9) | Shape::Grouped9 if gain < 3.0 => return None,
        Shape::Letters if gain < 4.0 || !(c.alone || c.emphasis > 0) => return None,
        Shape::AlnumMixed if c.handle && gain < 4.5 => return None,
        _ => {}
    }
    let mut b = Breakdown::default();
    b.add(shape, 1.0);
    b.add(Feature::Label, gain);
    if c.alone {
        b.add(if gain > 0.0 || c.emphasis > 0 { Feature::AloneBacked } else { Feature::Alone }, 1.0);
    }
    if matches!(c.shape, Shape::Letters | Shape::LetterGroups)
        && !c.value.bytes().any(|ch| matches!(ch, b'A' | b'E' | b'I' | b'O' | b'U'))
    {
        b.add(Feature::NoVowels, 1.0);
    }
    if c.hidden {
        b.add(Feature::Hidden, 1.0);
    }
    if c.year_like {
        b.add(Feature::YearLike, 1.0);
    }
    if c.glued {
        b.add(Feature::Glued, 1.0);
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text;

    fn code(subject: &str, body: &str) -> Option<String> {
        find_code(subject, &text::to_document(body)).map(|c| c.value)
    }

    #[test]
    fn labelled_codes() {
        assert_eq!(code("", "Your verification code is 483920."), Some("483920".into()));
        assert_eq!(code("", "Your verification code:\n\n  048213\n"), Some("048213".into()));
        assert_eq!(code("483920 is your code", "Hi"), Some("483920".into()));
    }

    #[test]
    fn look_alikes_are_not_codes() {
        assert_eq!(code("Your order", "Order number: 483920\nYour code ships soon"), None);
        assert_eq!(code("Zoom meeting", "Join Zoom Meeting\nMeeting ID: 812 3456 7890\nPasscode: 482913"), None);
        assert_eq!(code("Big sale", "Save 20% today! Shop now.\nUse code SAVE20 at checkout"), None);
        assert_eq!(code("Newsletter", "We shipped 4000 orders in 2024"), None);
    }
}
