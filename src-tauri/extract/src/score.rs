//! Picks the code: each candidate is scored on its shape, the nearest label, emphasis, whether it
//! stands alone, the subject and its position; the best value wins only when it clears a
//! threshold and no other value comes close. Otherwise there is no code: a missed code costs a
//! wait, a wrong one costs a failed sign-up.
//!
//! The nearest label decides: "Order number: 483920" is not a code even in a mail that also says
//! "verification code" elsewhere, and "Passcode: 482913" is a code unless the mail is about a
//! meeting. Labels in the block before count too, since templates put the label and the code in
//! separate cells.

use crate::blocks::Document;
use crate::candidates::{self, Candidate, SUBJECT, Shape};
use crate::keywords::{self, Hit, Kind};

/// Score a value needs to be returned.
pub const THRESHOLD: f32 = 7.0;
/// Most blocks whose labels are read.
const MAX_BLOCKS_LABELLED: usize = 2_000;

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

/// What the whole message is about, which changes what some labels mean.
#[derive(Debug, Clone, Copy, Default)]
struct Context {
    /// A meeting or call: "passcode" and "PIN" are for joining it.
    meeting: bool,
    /// Selling something: a bare "code" is a promo code.
    promo: bool,
    /// A trip or booking: a "confirmation code" is a booking reference.
    travel: bool,
}

impl Context {
    fn effective(self, kind: Kind) -> Kind {
        match kind {
            Kind::Pass if self.meeting => Kind::Negative,
            Kind::Generic | Kind::Weak if self.promo || self.travel => Kind::Negative,
            k => k,
        }
    }
}

fn weight(kind: Kind) -> f32 {
    match kind {
        Kind::Strong => 6.0,
        Kind::Weak => 5.0,
        Kind::Pass => 4.5,
        Kind::Generic => 4.0,
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
    let subject_hits = keywords::scan(subject);
    let block_hits = BlockLabels::of(doc);

    let all = || subject_hits.iter().chain(&block_hits.hits);
    let ctx = Context {
        meeting: all().any(|h| h.kind == Kind::Meeting),
        promo: all().filter(|h| h.kind == Kind::Promo).count() >= 2,
        travel: all().filter(|h| h.kind == Kind::Travel).count() >= 2,
    };
    let labelled = all().any(|h| ctx.effective(h.kind).is_code_label());
    if !labelled {
        return None;
    }

    let mut scored: Vec<(Candidate, f32)> = Vec::new();
    for c in candidates::find(subject, SUBJECT) {
        if let Some(s) = score(&c, subject, &subject_hits, None, ctx) {
            scored.push((c, s));
        }
    }
    let subject_values: Vec<String> = scored.iter().map(|(c, _)| c.value.clone()).collect();
    let n = doc.blocks.len().max(1) as f32;
    for c in candidates::find_in_document(doc) {
        let Some(text) = doc.blocks.get(c.block).map(|b| b.text.as_str()) else { continue };
        let hits = block_hits.get(c.block).unwrap_or(&[]);
        let Some(mut s) = score(&c, text, hits, Some((doc, &block_hits)), ctx) else { continue };
        if doc.from_html {
            s += [0.0, 1.2, 2.4, 3.0][usize::from(c.emphasis.min(3))];
        }
        s += 0.8 * (1.0 - c.block as f32 / n);
        if subject_values.contains(&c.value) {
            s += 3.0;
        }
        scored.push((c, s));
    }

    // Best score per value, with a little credit for repeats (preheader, subject, body).
    let mut values: Vec<(String, f32, usize)> = Vec::new();
    // Hidden text (a preheader) supports a value the reader sees but never wins alone.
    for (c, s) in scored.iter().filter(|(c, _)| !c.hidden) {
        match values.iter_mut().find(|(v, _, _)| *v == c.value) {
            Some((_, best, count)) => {
                *best = best.max(*s);
                *count += 1;
            }
            None => values.push((c.value.clone(), *s, 1)),
        }
    }
    for (c, _) in scored.iter().filter(|(c, _)| c.hidden) {
        if let Some((_, _, count)) = values.iter_mut().find(|(v, _, _)| *v == c.value) {
            *count += 1;
        }
    }
    let mut totals: Vec<(String, f32)> =
        values.into_iter().map(|(v, s, count)| (v, s + 0.4 * (count.saturating_sub(1).min(2)) as f32)).collect();
    totals.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (value, best) = totals.first().cloned()?;
    if best < THRESHOLD {
        return None;
    }
    let second = totals.get(1).map_or(0.0, |t| t.1);
    if second >= THRESHOLD && best - second < 0.5 {
        return None;
    }
    let gap = (best - second).min(6.0);
    let confidence = (0.45 + (best - THRESHOLD) * 0.05 + gap * 0.05).clamp(0.0, 0.99);
    Some(Code { value, confidence, score: best })
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
    if let Some((h, kind)) = before.iter().rev().find(|(_, k)| k.is_code_label()) {
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
        if kind.is_code_label() && d <= 30 {
            gain = gain.max(weight(kind) * 0.85);
        } else if kind == Kind::Negative && d <= 3 {
            gain -= 3.0;
        }
    }
    let Some((doc, block_hits)) = around else {
        return Some(gain);
    };
    // Labels in the blocks before: the label cell above the code cell.
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
            if hits.is_empty() {
                between += block.text.len();
                continue;
            }
            let last_positive = hits.iter().rev().find(|h| ctx.effective(h.kind).is_code_label());
            let negative_label = hits.iter().any(|h| ctx.effective(h.kind) == Kind::Negative)
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
    // A label in the block after a code that stands alone: "483920" / "Enter this code...".
    if gain <= 0.0 && c.alone {
        let next =
            (c.block + 1..doc.blocks.len().min(c.block + 3)).find(|&i| doc.blocks.get(i).is_some_and(|b| !b.hidden));
        if let Some(h) = next.and_then(|i| block_hits.get(i)).and_then(|hits| hits.first()) {
            let kind = ctx.effective(h.kind);
            if kind.is_code_label() {
                gain = weight(kind) * 0.6;
            }
        }
    }
    Some(gain)
}

/// The score of one candidate from its shape and labels (emphasis and position are added by
/// the caller, which knows the document). `None` rules it out.
fn score(
    c: &Candidate,
    text: &str,
    hits: &[Hit],
    around: Option<(&Document, &BlockLabels)>,
    ctx: Context,
) -> Option<f32> {
    let gain = label_gain(c, text, hits, around, ctx)?;
    let base = match c.shape {
        Shape::Digits(6) | Shape::Cells => 3.0,
        Shape::Digits(8) => 2.0,
        Shape::Digits(_) => 2.5,
        Shape::Grouped | Shape::Prefixed => 2.8,
        Shape::AlnumUpper => 2.2,
        Shape::AlnumMixed => 1.2,
        Shape::Letters => 0.8,
    };
    match c.shape {
        Shape::AlnumUpper | Shape::AlnumMixed if gain < 3.0 => return None,
        Shape::Letters if gain < 4.0 || !(c.alone || c.emphasis > 0) => return None,
        _ => {}
    }
    let mut s = base + gain;
    if c.alone {
        s += if gain > 0.0 || c.emphasis > 0 { 2.0 } else { 0.5 };
    }
    if c.hidden {
        s -= 1.5;
    }
    if c.year_like {
        s -= 4.0;
    }
    Some(s)
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
