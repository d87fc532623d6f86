//! Word lists compiled to DFAs, and the loops that search them.
//!
//! Labels are looked for in every block, and link words in every link: a message makes hundreds
//! of searches of a few dozen bytes. aho-corasick's own iterators cost more than such a search
//! itself (set-up per match, an automaton behind dynamic dispatch, a loop that reloads the
//! transition table on every byte). These loops walk the same DFA through its public
//! [`Automaton`] interface, step for step as aho-corasick's forward search does, so they find
//! exactly the matches it would.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::{Builder, DFA};
use aho_corasick::{Anchored, MatchKind};

/// A word list compiled to one DFA, searched without a prefilter (haystacks are short).
#[derive(Debug, Clone)]
pub struct Words {
    dfa: DFA,
    start: StateID,
}

/// A match: which pattern (by its index in the list), and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Index of the pattern in the list it was built from.
    pub pattern: usize,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
}

impl Words {
    /// Compiles `patterns` with the given match semantics; `None` when aho-corasick cannot.
    pub fn new<I, P>(patterns: I, kind: MatchKind, ascii_case_insensitive: bool) -> Option<Words>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let dfa = Builder::new()
            .match_kind(kind)
            .ascii_case_insensitive(ascii_case_insensitive)
            .prefilter(false)
            .build(patterns)
            .ok()?;
        let start = dfa.start_state(Anchored::No).ok()?;
        Some(Words { dfa, start })
    }

    /// The first match that starts at or after `from`, by the list's leftmost semantics (as
    /// aho-corasick's `find` with the search starting at `from`).
    pub fn find_at(&self, haystack: &[u8], from: usize) -> Option<Found> {
        let mut sid = self.start;
        let mut found = None;
        if self.dfa.is_match(sid) {
            found = Some(self.found(sid, from));
        }
        let mut at = from;
        // Between special (match or dead) states, nothing but transitions.
        while let Some(step) = self.next_special(haystack.get(at..)?, &mut sid) {
            at += step + 1;
            if self.dfa.is_dead(sid) {
                return found;
            }
            if self.dfa.is_match(sid) {
                found = Some(self.found(sid, at));
            }
        }
        found
    }

    /// Non-overlapping matches in order, each search starting where the last match ended (as
    /// aho-corasick's `find_iter`; no pattern is empty).
    pub fn find_iter<'h>(&'h self, haystack: &'h [u8]) -> impl Iterator<Item = Found> + 'h {
        let mut from = 0;
        std::iter::from_fn(move || {
            let found = self.find_at(haystack, from)?;
            from = found.end.max(from + 1);
            Some(found)
        })
    }

    /// True when any pattern occurs in `haystack` (as aho-corasick's `is_match`).
    pub fn is_match(&self, haystack: &[u8]) -> bool {
        let mut sid = self.start;
        self.dfa.is_match(sid) || (self.next_special(haystack, &mut sid).is_some() && self.dfa.is_match(sid))
    }

    /// Calls `each` with the index of every pattern occurring in `haystack`, overlaps included
    /// (as aho-corasick's `find_overlapping_iter`, which needs standard match semantics), until
    /// it returns false.
    pub fn each_overlapping(&self, haystack: &[u8], mut each: impl FnMut(usize) -> bool) {
        let dfa = &self.dfa;
        let mut sid = self.start;
        let mut report = |sid: StateID| (0..dfa.match_len(sid)).all(|i| each(dfa.match_pattern(sid, i).as_usize()));
        if dfa.is_match(sid) && !report(sid) {
            return;
        }
        let mut at = 0;
        while let Some(step) = haystack.get(at..).and_then(|rest| self.next_special(rest, &mut sid)) {
            at += step + 1;
            if dfa.is_dead(sid) || !report(sid) {
                return;
            }
        }
    }

    /// Walks `haystack` from `sid` up to the first special state; returns the index of the byte
    /// that led there, leaving `sid` in it.
    #[inline(always)]
    fn next_special(&self, haystack: &[u8], sid: &mut StateID) -> Option<usize> {
        let dfa = &self.dfa;
        let mut state = *sid;
        // Four bytes a round: the loop's own counting is then a quarter of its cost.
        let mut chunks = haystack.chunks_exact(4);
        let mut at = 0;
        for chunk in &mut chunks {
            for (i, &byte) in chunk.iter().enumerate() {
                state = dfa.next_state(Anchored::No, state, byte);
                if dfa.is_special(state) {
                    *sid = state;
                    return Some(at + i);
                }
            }
            at += 4;
        }
        let step = chunks.remainder().iter().position(|&byte| {
            state = dfa.next_state(Anchored::No, state, byte);
            dfa.is_special(state)
        });
        *sid = state;
        step.map(|i| at + i)
    }

    fn found(&self, sid: StateID, end: usize) -> Found {
        let pattern = self.dfa.match_pattern(sid, 0);
        Found { pattern: pattern.as_usize(), start: end - self.dfa.pattern_len(pattern), end }
    }
}

#[cfg(test)]
mod tests {
    use aho_corasick::AhoCorasickBuilder;

    use super::*;

    const PATTERNS: &[&str] = &["code", "verification code", "promo code", "pin", "spin", "ID", "id:", "验证码", "co"];
    const TEXTS: &[&str] = &[
        "",
        "Your verification code is 123",
        "Your PROMO CODE and your Verification Code",
        "spinning codec pin id: ID",
        "您的验证码是 123456 code",
        "cococo code coder verification cod verification code",
    ];

    #[test]
    fn finds_what_aho_corasick_finds() {
        for kind in [MatchKind::LeftmostLongest, MatchKind::LeftmostFirst] {
            let words = Words::new(PATTERNS, kind, true).expect("patterns compile");
            let ac = AhoCorasickBuilder::new().match_kind(kind).ascii_case_insensitive(true).build(PATTERNS).unwrap();
            for text in TEXTS {
                let ours: Vec<_> = words.find_iter(text.as_bytes()).map(|f| (f.pattern, f.start, f.end)).collect();
                let theirs: Vec<_> = ac.find_iter(text).map(|m| (m.pattern().as_usize(), m.start(), m.end())).collect();
                assert_eq!(ours, theirs, "{kind:?} {text:?}");
            }
        }
        let words = Words::new(PATTERNS, MatchKind::Standard, false).expect("patterns compile");
        let ac = AhoCorasickBuilder::new().build(PATTERNS).unwrap();
        for text in TEXTS {
            assert_eq!(words.is_match(text.as_bytes()), ac.is_match(text), "{text:?}");
            let mut ours = Vec::new();
            words.each_overlapping(text.as_bytes(), |p| {
                ours.push(p);
                true
            });
            let mut theirs: Vec<_> = ac.find_overlapping_iter(text).map(|m| m.pattern().as_usize()).collect();
            ours.sort_unstable();
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }
}
