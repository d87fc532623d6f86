//! HTML → blocks, keeping what tells a code from the rest: emphasis, cells, link text, and
//! which text is hidden.
//!
//! A full HTML5 tree builder plus a CSS engine costs far more than a verification mail is
//! worth (the figure to beat is thousands of 50 KB mails a second), and its exact tree does not
//! matter here. This is a single forward pass over the bytes: tags open and close scopes that
//! carry "hidden" and "emphasis", block-level tags end a block, `<a>` records a link with its
//! text. `<style>` sheets are read just enough to learn which classes hide text (preheaders) or
//! make it big or bold. `<script>`, `<style>`, `<title>` and comments (including Outlook's
//! conditional ones) are skipped. The pass is linear in the input: a tag that never closes ends
//! the scan, and end tags look at most a few levels up the stack.

use crate::blocks::{BlockBuilder, Document, Link};

/// Deepest element nesting tracked; deeper tags still add text but open no scope.
const MAX_DEPTH: usize = 256;
/// How far up the stack an end tag looks for its start tag.
const END_TAG_SEARCH: usize = 24;
/// Most CSS classes remembered from `<style>` sheets.
const MAX_CLASSES: usize = 256;
/// Longest link text kept (bytes).
const MAX_LINK_TEXT: usize = 300;

/// Turns an HTML body into blocks and links.
pub fn to_document(html: &str) -> Document {
    let mut pass = Pass { b: BlockBuilder::new(true), ..Pass::default() };
    pass.run(html);
    pass.finish()
}

/// What a style (inline or from a class) does to its element.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Style {
    /// Hidden for good: `display:none` and the like hide every descendant.
    hidden: bool,
    /// The font size it sets, when it sets one: `Some(true)` for a size nobody can read. Unlike
    /// `hidden`, a descendant's own size undoes it, which is how layouts use `font-size:0` on a
    /// wrapper to close the gaps between inline blocks whose children set their own size.
    tiny: Option<bool>,
    emphasis: u8,
    button: bool,
}

impl Style {
    fn merge(&mut self, other: Style) {
        self.hidden |= other.hidden;
        if other.tiny.is_some() {
            self.tiny = other.tiny;
        }
        self.emphasis = (self.emphasis + other.emphasis).min(3);
        self.button |= other.button;
    }
}

/// One open element.
#[derive(Debug, Clone)]
struct Elem {
    /// Where the tag's name is in the input (compared without regard to ASCII case).
    name: std::ops::Range<usize>,
    /// What the reader sees of it: hidden for good, or in a font too small to read.
    hidden: bool,
    /// Hidden for good, whatever a descendant's font size.
    hard: bool,
    /// In a font too small to read, unless a descendant sets its own size.
    tiny: bool,
    emphasis: u8,
    /// Has a background of its own (a button cell).
    background: bool,
    /// Styled like a button itself.
    button: bool,
}

#[derive(Debug, Default)]
struct Pass {
    b: BlockBuilder,
    stack: Vec<Elem>,
    classes: std::collections::HashMap<String, Style>,
    /// Class rules not read yet: templates ship sheets of a hundred rules for classes the body
    /// never names, or names without any rule that hides or emphasises. Each class's rules are
    /// read on the first element that names it.
    sheet: ClassRules,
    /// The `<a>` being read: index into the builder's links and its text so far.
    open_link: Option<(usize, String, bool)>,
    /// `style` attributes already read. Templates repeat the same few inline styles on every
    /// cell and paragraph (CSS inliners write them out in full).
    styles: Vec<(String, Style)>,
}

/// Most distinct `style` attributes remembered, and the longest.
const MAX_STYLES: usize = 64;
const MAX_STYLE_BYTES: usize = 512;

impl Pass {
    fn hidden(&self) -> bool {
        self.stack.last().is_some_and(|e| e.hidden)
    }

    fn emphasis(&self) -> u8 {
        self.stack.last().map_or(0, |e| e.emphasis)
    }

    fn run(&mut self, html: &str) {
        let bytes = html.as_bytes();
        let mut pos = 0;
        let mut attrs = Attributes::with_capacity(MAX_ATTRIBUTES);
        while pos < bytes.len() && !self.b.is_full() {
            let Some(lt) = memchr::memchr(b'<', &bytes[pos..]).map(|i| pos + i) else {
                self.text(&html[pos..]);
                break;
            };
            if lt > pos {
                self.text(&html[pos..lt]);
            }
            match self.tag(html, lt, &mut attrs) {
                Some(next) => pos = next,
                None => break,
            }
        }
    }

    /// Handles the markup starting at `lt` (a `<`); returns where text resumes, or `None`
    /// when the rest of the input is one unterminated construct.
    fn tag<'a>(&mut self, html: &'a str, lt: usize, attrs: &mut Attributes<'a>) -> Option<usize> {
        let bytes = html.as_bytes();
        let rest = &bytes[lt..];
        if rest.starts_with(b"<!--") {
            let end = memchr::memmem::find(&rest[4..], b"-->")?;
            return Some(lt + 4 + end + 3);
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            let end = memchr::memchr(b'>', rest)?;
            return Some(lt + end + 1);
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_start = lt + if closing { 2 } else { 1 };
        let first = bytes.get(name_start).copied().unwrap_or(b' ');
        if !first.is_ascii_alphabetic() {
            // A lone `<` is text.
            self.text("<");
            return Some(lt + 1);
        }
        let mut i = name_start;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-' || bytes[i] == b':') {
            i += 1;
        }
        // Tags are nearly always written in lower case: lower-case a copy only when needed.
        let name = lower_ascii(&html[name_start..i]);
        let info = TagInfo::of(&name);
        let (self_closing, end) = parse_attributes(html, i, attrs)?;
        if closing {
            self.end_tag(html, &name, info);
        } else {
            if info.is(RAW_TEXT) {
                let close = find_end_tag(bytes, end, &name)?;
                if info.is(STYLE) {
                    for i in self.sheet.add(html, end..close) {
                        let css = self.sheet.sheets[i].clone();
                        self.read_stylesheet(&html[css]);
                    }
                }
                let gt = memchr::memchr(b'>', &bytes[close..]).map_or(bytes.len(), |g| close + g + 1);
                return Some(gt);
            }
            self.start_tag(html, info, name_start..i, attrs, self_closing);
        }
        Some(end)
    }

    fn start_tag(
        &mut self,
        html: &str,
        info: TagInfo,
        span: std::ops::Range<usize>,
        attrs: &[(&str, &str)],
        self_closing: bool,
    ) {
        if info.is(BLOCK) {
            self.b.flush();
        }
        let (parent_hard, parent_tiny) = self.stack.last().map_or((false, false), |e| (e.hard, e.tiny));
        let mut style = Style { emphasis: self.emphasis(), ..Style::default() };
        style.merge(tag_style(info, attrs));
        let mut background = false;
        let mut inline = None;
        for &(key, value) in attrs {
            match key {
                // Applied after the classes, whatever the attribute order: inline wins in CSS.
                "style" => inline = Some(value),
                "class" => {
                    for class in value.split_ascii_whitespace() {
                        let class = lower_ascii(class);
                        if self.sheet.eager {
                            if let Some(s) = self.classes.get(class.as_ref()) {
                                style.merge(*s);
                            }
                        } else {
                            style.merge(self.sheet.style(html, &class));
                        }
                        // Class names are a few bytes: a window scan beats setting up a searcher.
                        let has = |word: &str| class.as_bytes().windows(word.len()).any(|w| w == word.as_bytes());
                        if has("btn") || has("button") || has("cta") {
                            style.button = true;
                        }
                        if has("preheader") || has("preview") {
                            style.hidden = true;
                        }
                    }
                }
                "hidden" => style.hidden = true,
                "bgcolor" => background = true,
                _ => {}
            }
        }
        if let Some(value) = inline {
            style.merge(self.inline_style(value));
        }
        if style.button {
            background = true;
        }
        let hard = parent_hard || style.hidden;
        let tiny = style.tiny.unwrap_or(parent_tiny);
        let hidden = hard || tiny;

        if info.is(BR) {
            self.b.flush();
            return;
        }
        if info.is(IMG) {
            self.image(attrs);
            return;
        }
        if info.is(A) {
            self.open_link(attrs, hidden, style.button);
        }
        if info.is(VOID) || (self_closing && !info.is(A)) || self.stack.len() >= MAX_DEPTH {
            return;
        }
        self.stack.push(Elem {
            name: span,
            hidden,
            hard,
            tiny,
            emphasis: style.emphasis,
            background,
            button: style.button,
        });
    }

    fn end_tag(&mut self, html: &str, name: &str, info: TagInfo) {
        let depth = self.stack.len();
        let found =
            self.stack.iter().rev().take(END_TAG_SEARCH).position(|e| html[e.name.clone()].eq_ignore_ascii_case(name));
        if let Some(up) = found {
            self.stack.truncate(depth - up - 1);
        }
        if info.is(A) {
            self.close_link();
        }
        if info.is(BLOCK) {
            self.b.flush();
        }
    }

    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        let hidden = self.hidden();
        self.b.push_text(&decoded, self.emphasis(), hidden);
        if let Some((_, text, _)) = &mut self.open_link
            && text.len() < MAX_LINK_TEXT
        {
            text.push_str(&decoded);
        }
    }

    fn image(&mut self, attrs: &[(&str, &str)]) {
        if let Some((_, _, had_image)) = &mut self.open_link {
            *had_image = true;
        }
        let alt = attrs.iter().find(|(k, _)| *k == "alt").map(|(_, v)| decode_entities(v));
        if let (Some(alt), Some((_, text, _))) = (alt, &mut self.open_link)
            && text.len() < MAX_LINK_TEXT
        {
            text.push(' ');
            text.push_str(&alt);
        }
    }

    fn open_link(&mut self, attrs: &[(&str, &str)], hidden: bool, button: bool) {
        self.close_link();
        let Some(href) = attrs.iter().find(|(k, _)| *k == "href").map(|(_, v)| trimmed(decode_entities(v))) else {
            return;
        };
        let in_button = button || self.stack.iter().rev().take(3).any(|e| e.background || e.button);
        // Built by hand: `format!` costs more than the copy for the forty links of a template.
        let (last, current) = (tail(self.b.last_text(), 160), tail(self.b.current_text(), 200));
        let mut context = String::with_capacity(last.len() + 1 + current.len());
        context.push_str(last);
        context.push(' ');
        context.push_str(current);
        // The lead is the end of the context: a place in it, not a copy.
        let lead_start = context.len() - tail(current, 120).len();
        let index = self.b.link_count();
        self.b.push_link(Link {
            href,
            context,
            lead_start,
            block: self.b.current_index(),
            button: in_button,
            hidden,
            ..Link::default()
        });
        self.open_link = Some((index, String::new(), false));
    }

    fn close_link(&mut self) {
        let Some((index, text, had_image)) = self.open_link.take() else {
            return;
        };
        // Link text is nearly always collapsed already: kept as it is then, without a copy.
        let text =
            if crate::blocks::plain_run(text.as_bytes()) == text.len() { text } else { collapse_whitespace(&text) };
        if let Some(link) = self.b.link_mut(index) {
            link.image_only = had_image && text.trim().is_empty();
            link.text = text;
        }
    }

    /// [`inline_style`], remembered.
    fn inline_style(&mut self, value: &str) -> Style {
        if let Some((_, style)) = self.styles.iter().find(|(v, _)| v == value) {
            return *style;
        }
        let style = inline_style(value);
        if self.styles.len() < MAX_STYLES && value.len() <= MAX_STYLE_BYTES {
            self.styles.push((value.to_string(), style));
        }
        style
    }

    fn read_stylesheet(&mut self, css: &str) {
        for (selector, body) in css_rules(css) {
            // Only class rules are kept: element and id rules need no reading.
            if !selector.contains('.') {
                continue;
            }
            let style = inline_style(body);
            if style == Style::default() {
                continue;
            }
            for sel in selector.split(',') {
                // Only the element the rule lands on matters: the last compound selector.
                let last = sel.split_ascii_whitespace().last().unwrap_or("");
                if last.contains(':') || last.contains('[') {
                    continue;
                }
                for class in last.split('.').skip(1) {
                    let class = class.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
                    if class.is_empty() || self.classes.len() >= MAX_CLASSES {
                        continue;
                    }
                    self.classes.entry(class.to_ascii_lowercase()).or_default().merge(style);
                }
            }
        }
    }

    fn finish(mut self) -> Document {
        self.close_link();
        self.b.finish()
    }
}

/// The class rules of every `<style>` sheet so far, as places in the input, sorted by a hash
/// of the class name (ASCII case ignored), each class's style worked out when first asked for.
#[derive(Debug, Default)]
struct ClassRules {
    /// Every sheet's text, in order (to read them all again if [`Self::eager`] is set).
    sheets: Vec<std::ops::Range<usize>>,
    /// (name hash, class name, rule declarations) for every class of every class rule's last
    /// compound selector.
    rules: Vec<(u64, std::ops::Range<usize>, std::ops::Range<usize>)>,
    /// The style of the class at the same index of `rules` (its first rule), once read.
    styles: Vec<Option<Style>>,
    /// More than [`MAX_CLASSES`] distinct classes: which rules count then depends on the order
    /// they come in, so the sheets are read in full instead, as [`Pass::read_stylesheet`] does.
    eager: bool,
}

impl ClassRules {
    /// Takes in the sheet at `css_range`; returns which of [`Self::sheets`] must be read in
    /// full now (none while the rules can wait).
    fn add(&mut self, html: &str, css_range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        self.sheets.push(css_range.clone());
        if self.eager {
            return self.sheets.len() - 1..self.sheets.len();
        }
        let css = &html[css_range];
        let at = |s: &str| {
            let start = s.as_ptr() as usize - html.as_ptr() as usize;
            start..start + s.len()
        };
        for (selector, body) in css_rules(css) {
            // Most rules of a template's sheet are one plain class, `.name`.
            if let Some(class) = selector.strip_prefix('.')
                && !class.is_empty()
                && class.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                self.rules.push((name_hash(class), at(class), at(body)));
                continue;
            }
            if !selector.contains('.') {
                continue;
            }
            for sel in selector.split(',') {
                let last = sel.split_ascii_whitespace().last().unwrap_or("");
                if last.contains(':') || last.contains('[') {
                    continue;
                }
                for class in last.split('.').skip(1) {
                    let class = class.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
                    if !class.is_empty() {
                        self.rules.push((name_hash(class), at(class), at(body)));
                    }
                }
            }
        }
        // Merging styles does not depend on the order of a class's rules.
        self.rules.sort_unstable_by_key(|r| r.0);
        self.styles.clear();
        self.styles.resize(self.rules.len(), None);
        // Counts a name twice when another with the same hash comes between: reading eagerly
        // too soon is only slower.
        let same = |a: &(u64, std::ops::Range<usize>, _), b: &(u64, std::ops::Range<usize>, _)| {
            a.0 == b.0 && html[a.1.clone()].eq_ignore_ascii_case(&html[b.1.clone()])
        };
        let distinct = 1 + self.rules.windows(2).filter(|w| !same(&w[0], &w[1])).count();
        if distinct > MAX_CLASSES {
            self.eager = true;
            self.rules = Vec::new();
            self.styles = Vec::new();
            return 0..self.sheets.len();
        }
        0..0
    }

    /// What the rules for `class` (lower case) do.
    fn style(&mut self, html: &str, class: &str) -> Style {
        let hash = name_hash(class);
        let first = self.rules.partition_point(|r| r.0 < hash);
        let mut style = Style::default();
        let mut found = false;
        // Another name with the same hash shares the slot: such a run is never remembered.
        let mut other = false;
        for (h, name, body) in &self.rules[first..] {
            if *h != hash {
                break;
            }
            if !html[name.clone()].eq_ignore_ascii_case(class) {
                other = true;
                continue;
            }
            if let Some(style) = self.styles[first].filter(|_| !found && !other) {
                return style;
            }
            found = true;
            style.merge(inline_style(&html[body.clone()]));
        }
        if found && !other {
            self.styles[first] = Some(style);
        }
        style
    }
}

/// FNV-1a of `name` in ASCII lower case.
fn name_hash(name: &str) -> u64 {
    name.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3))
}

/// `s` with ASCII letters in lower case, copied only when it has upper-case ones.
fn lower_ascii(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) { s.to_ascii_lowercase().into() } else { s.into() }
}

/// The last `max` bytes of `s`, on a character boundary.
fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Top-level CSS rules as (selector, declarations); rules inside `@media` and other at-rules
/// are skipped, since they apply only to some screens.
fn css_rules(css: &str) -> Vec<(&str, &str)> {
    let bytes = css.as_bytes();
    let mut rules = Vec::new();
    let mut depth = 0usize;
    let mut in_at_rule = false;
    let mut sel_start = 0;
    let mut body_start = 0;
    let mut selector = "";
    for i in memchr::memchr2_iter(b'{', b'}', bytes) {
        match bytes[i] {
            b'{' => {
                if depth == 0 {
                    selector = trim(&css[sel_start..i]);
                    in_at_rule = selector.starts_with('@')
                        || memchr::memchr(b'<', selector.as_bytes()).is_some() && selector.contains("<!--");
                    body_start = i + 1;
                }
                depth += 1;
            }
            b'}' => {
                if depth == 1 && !in_at_rule && rules.len() < 2_000 {
                    rules.push((selector, &css[body_start..i]));
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    sel_start = i + 1;
                }
            }
            _ => {}
        }
    }
    rules
}

/// What an inline `style` attribute (or a rule's declarations) does.
///
/// Plain byte loops and ASCII-case-insensitive comparisons, without copies: every rule of every
/// sheet and every distinct inline style goes through here, and declarations are a few bytes
/// long, so any per-piece set-up (a searcher, a lower-cased copy) costs more than the piece.
fn inline_style(style: &str) -> Style {
    let mut out = Style::default();
    let mut zero_height = false;
    let mut overflow_hidden = false;
    let bytes = style.as_bytes();
    let mut start = 0;
    // `split(';')` then `split_once(':')`, including the empty piece after a final `;`.
    while start <= bytes.len() {
        let rest = &bytes[start..];
        let end = start + semicolon(rest).unwrap_or(rest.len());
        let colon = rest[..end - start].iter().position(|&b| b == b':').map(|i| start + i);
        let decl = start..end;
        start = end + 1;
        let Some(colon) = colon else { continue };
        // Most declarations (colour, padding, margins) change nothing here: skip them before
        // touching their value.
        let Some(prop) = Prop::of(trim(&style[decl.start..colon])) else { continue };
        let value = trim(&style[colon + 1..decl.end]);
        let value = trim(value.strip_suffix("!important").unwrap_or(value));
        let is = |word: &str| value.eq_ignore_ascii_case(word);
        match prop {
            Prop::Display if is("none") => out.hidden = true,
            Prop::Visibility if is("hidden") || is("collapse") => out.hidden = true,
            Prop::Opacity if value.parse::<f32>().is_ok_and(|v| v <= 0.01) => out.hidden = true,
            Prop::FontSize => match font_size_px(value) {
                // 1px white-on-white preheaders are as unreadable as 0px ones.
                Some(px) if px < 2.0 => out.tiny = Some(true),
                Some(px) => {
                    out.tiny = Some(false);
                    if px >= 20.0 {
                        out.emphasis = (out.emphasis + 2).min(3);
                    }
                }
                None => {}
            },
            Prop::Size if font_size_px(value) == Some(0.0) => zero_height = true,
            Prop::Overflow if is("hidden") => overflow_hidden = true,
            Prop::MsoHide if is("all") => out.hidden = true,
            Prop::FontWeight
                if value.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("bold"))
                    || value.parse::<u32>().is_ok_and(|w| w >= 600) =>
            {
                out.emphasis = (out.emphasis + 1).min(3);
            }
            Prop::LetterSpacing if font_size_px(value).is_some_and(|px| px >= 1.0) => {
                out.emphasis = (out.emphasis + 1).min(3);
            }
            // All four names have an "o": most font stacks are ruled out without a copy.
            Prop::FontFamily if memchr::memchr2(b'o', b'O', value.as_bytes()).is_some() => {
                let value = value.to_ascii_lowercase();
                if ["mono", "courier", "consolas", "menlo"].iter().any(|name| value.contains(name)) {
                    out.emphasis = (out.emphasis + 1).min(3);
                }
            }
            Prop::Background
                if !(value.is_empty()
                    || is("none")
                    || is("transparent")
                    || value.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("url"))) =>
            {
                out.button = true;
            }
            Prop::BorderRadius => out.button = true,
            _ => {}
        }
    }
    if zero_height && overflow_hidden {
        out.hidden = true;
    }
    out
}

/// `s.trim().to_string()`, without a second copy when `s` is a copy already.
fn trimmed(s: std::borrow::Cow<'_, str>) -> String {
    match s {
        std::borrow::Cow::Owned(owned) if owned.trim().len() == owned.len() => owned,
        s => s.trim().to_string(),
    }
}

/// `s.split_whitespace()` joined by single spaces, without the intermediate vector.
fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `s.trim()`, without the char searcher for the common all-ASCII case.
fn trim(s: &str) -> &str {
    let t = s.trim_ascii();
    // Vertical tab and non-ASCII spaces are Unicode whitespace too.
    let odd = |b: Option<&u8>| b.is_some_and(|&b| b == 0x0B || b >= 0x80);
    if odd(t.as_bytes().first()) || odd(t.as_bytes().last()) { s.trim() } else { t }
}

/// The first `;` in `bytes`, eight bytes at a time: declarations are a few dozen bytes, too
/// short for memchr to win back its set-up, too long for a byte loop.
fn semicolon(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) ^ (ONES * u64::from(b';'));
        // A zero byte in `word` is a `;` in the chunk; the lowest flagged byte is the first.
        let found = word.wrapping_sub(ONES) & !word & HIGHS;
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == b';').map(|i| offset + i)
}

/// The CSS properties that hide text, emphasise it or make a button.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Prop {
    Display,
    Visibility,
    Opacity,
    FontSize,
    /// `height`, `width` and their `max-` forms: zero with `overflow:hidden` hides.
    Size,
    Overflow,
    /// Outlook's own `mso-hide:all`.
    MsoHide,
    FontWeight,
    LetterSpacing,
    FontFamily,
    Background,
    BorderRadius,
}

impl Prop {
    fn of(name: &str) -> Option<Prop> {
        // By length first: colours, paddings, margins and alignments are ruled out with at most
        // a comparison or two.
        let names: &[(&str, Prop)] = match name.len() {
            5 => &[("width", Prop::Size)],
            6 => &[("height", Prop::Size)],
            7 => &[("display", Prop::Display), ("opacity", Prop::Opacity)],
            8 => &[("overflow", Prop::Overflow), ("mso-hide", Prop::MsoHide)],
            9 => &[("font-size", Prop::FontSize), ("max-width", Prop::Size)],
            10 => &[("visibility", Prop::Visibility), ("max-height", Prop::Size), ("background", Prop::Background)],
            11 => &[("font-weight", Prop::FontWeight), ("font-family", Prop::FontFamily)],
            13 => &[("border-radius", Prop::BorderRadius)],
            14 => &[("letter-spacing", Prop::LetterSpacing)],
            16 => &[("background-color", Prop::Background)],
            _ => return None,
        };
        names.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, p)| *p)
    }
}

/// A CSS length in pixels, roughly (`pt`, `em`, `rem`, keywords), in any ASCII case.
fn font_size_px(value: &str) -> Option<f32> {
    let value = trim(value);
    if value == "0" {
        return Some(0.0);
    }
    if !value.starts_with(|c: char| c.is_ascii_digit()) {
        for (keyword, px) in [("x-large", 24.0), ("xx-large", 32.0), ("xxx-large", 32.0), ("large", 18.0)] {
            if value.eq_ignore_ascii_case(keyword) {
                return Some(px);
            }
        }
    }
    let num_end = value.bytes().position(|b| !(b.is_ascii_digit() || b == b'.')).unwrap_or(value.len());
    let digits = &value[..num_end];
    // Whole numbers (nearly all of them) without the float parser; exact below 2^24.
    let number: f32 = if (1..=6).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.bytes().fold(0u32, |n, b| n * 10 + u32::from(b - b'0')) as f32
    } else {
        digits.parse().ok()?
    };
    let unit = trim(&value[num_end..]);
    let unit_is = |u: &str| unit.eq_ignore_ascii_case(u);
    if unit_is("px") || unit.is_empty() {
        Some(number)
    } else if unit_is("pt") {
        Some(number * 4.0 / 3.0)
    } else if unit_is("em") || unit_is("rem") {
        Some(number * 16.0)
    } else if unit == "%" {
        Some(number * 0.16)
    } else {
        None
    }
}

/// Emphasis and visibility a tag carries by itself.
fn tag_style(info: TagInfo, attrs: &[(&str, &str)]) -> Style {
    let emphasis = if info.is(FONT) {
        let size = attrs.iter().find(|(k, _)| *k == "size").map(|(_, v)| v.trim());
        match size {
            Some(s) if s.starts_with('+') => 2,
            Some(s) if s.parse::<u32>().is_ok_and(|n| n >= 5) => 2,
            _ => 0,
        }
    } else {
        info.emphasis
    };
    Style { emphasis, ..Style::default() }
}

/// What a tag's (lower-case) name says about it, found with one comparison of the name instead
/// of one per question.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct TagInfo {
    flags: u16,
    /// Emphasis of its own: 1 bold, monospace or a small heading, 2 a large heading.
    emphasis: u8,
}

/// Ends a block of text.
const BLOCK: u16 = 1;
/// Has no end tag.
const VOID: u16 = 1 << 1;
/// Holds text that is not shown (scripts, sheets, titles): skipped to its end tag.
const RAW_TEXT: u16 = 1 << 2;
const STYLE: u16 = 1 << 3;
const A: u16 = 1 << 4;
const BR: u16 = 1 << 5;
const IMG: u16 = 1 << 6;
/// Emphasis set by its `size`.
const FONT: u16 = 1 << 7;

impl TagInfo {
    fn of(name: &str) -> TagInfo {
        let (flags, emphasis) = match name {
            "p" | "div" | "td" | "th" | "tr" | "table" | "tbody" | "thead" | "tfoot" | "li" | "ul" | "ol" | "h4"
            | "h5" | "h6" | "center" | "section" | "article" | "header" | "footer" | "blockquote" | "dt" | "dd"
            | "dl" | "form" | "nav" | "main" | "aside" | "address" | "body" | "html" | "button" | "caption"
            | "figure" | "figcaption" => (BLOCK, 0),
            "h1" | "h2" => (BLOCK, 2),
            "h3" | "pre" => (BLOCK, 1),
            "hr" => (BLOCK | VOID, 0),
            "br" => (BLOCK | VOID | BR, 0),
            "img" => (VOID | IMG, 0),
            "area" | "base" | "col" | "embed" | "input" | "link" | "meta" | "param" | "source" | "track" | "wbr" => {
                (VOID, 0)
            }
            "b" | "strong" | "big" | "code" | "kbd" | "tt" | "samp" | "mark" => (0, 1),
            "font" => (FONT, 0),
            "a" => (A, 0),
            "style" => (RAW_TEXT | STYLE, 0),
            "script" | "title" | "textarea" | "noscript" | "template" | "xmp" | "svg" | "head-style" => (RAW_TEXT, 0),
            _ => (0, 0),
        };
        TagInfo { flags, emphasis }
    }

    fn is(self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

/// Most attributes kept per tag.
const MAX_ATTRIBUTES: usize = 16;

/// A tag's known attributes: lower-case name, raw value. One vector serves every tag of a
/// body: nearly every tag has some, and a vector of its own would be an allocation per tag.
type Attributes<'a> = Vec<(&'static str, &'a str)>;

/// Attributes the pass reads; the others are skipped without a copy.
const KNOWN_ATTRIBUTES: &[&str] = &["style", "class", "href", "hidden", "alt", "bgcolor", "size", "width", "height"];

/// Reads a tag's attributes from `pos` (just after its name) into `attrs`: the known ones
/// (names lowercased, values raw). Returns whether the tag ends in `/>` and the index after
/// `>`; `None` when no `>` follows.
fn parse_attributes<'a>(html: &'a str, mut pos: usize, attrs: &mut Attributes<'a>) -> Option<(bool, usize)> {
    let bytes = html.as_bytes();
    attrs.clear();
    let mut self_closing = false;
    loop {
        while pos < bytes.len() && (bytes[pos].is_ascii_whitespace() || bytes[pos] == b'/') {
            self_closing = bytes[pos] == b'/';
            pos += 1;
        }
        let &c = bytes.get(pos)?;
        if c == b'>' {
            return Some((self_closing, pos + 1));
        }
        self_closing = false;
        let name_start = pos;
        while pos < bytes.len() && !matches!(bytes[pos], b'=' | b'>' | b'/') && !bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let name = &html[name_start..pos];
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let mut value = "";
        if bytes.get(pos) == Some(&b'=') {
            pos += 1;
            while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
            match bytes.get(pos) {
                Some(&q) if q == b'"' || q == b'\'' => {
                    let end = memchr::memchr(q, &bytes[pos + 1..])? + pos + 1;
                    value = &html[pos + 1..end];
                    pos = end + 1;
                }
                Some(_) => {
                    let start = pos;
                    while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() && bytes[pos] != b'>' {
                        pos += 1;
                    }
                    value = &html[start..pos];
                }
                None => return None,
            }
        }
        if attrs.len() < MAX_ATTRIBUTES
            && let Some(known) = KNOWN_ATTRIBUTES.iter().find(|k| k.eq_ignore_ascii_case(name))
        {
            attrs.push((*known, value));
        }
    }
}

/// Finds `</name` (any case) at or after `from`; returns its index.
fn find_end_tag(bytes: &[u8], from: usize, name: &str) -> Option<usize> {
    let mut pos = from;
    let finder = memchr::memmem::Finder::new(b"</");
    while let Some(i) = finder.find(&bytes[pos..]) {
        let at = pos + i;
        let after = &bytes[at + 2..];
        if after.len() >= name.len() && after[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
            return Some(at);
        }
        pos = at + 2;
    }
    None
}

/// Decodes character references (`&amp;`, `&#8203;`, `&#x41;`, the common named ones).
pub fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    // Attribute values and text runs are short and mostly free of entities: memchr's
    // vector search is set up once for them, without a char searcher.
    if memchr::memchr(b'&', s.as_bytes()).is_none() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let limit = rest.len().min(34);
        let semi = rest.as_bytes()[..limit].iter().position(|&b| b == b';');
        let decoded = semi.and_then(|semi| decode_one(&rest[1..semi]).map(|c| (c, semi + 1)));
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

fn decode_one(entity: &str) -> Option<char> {
    if let Some(num) = entity.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        return Some(char::from_u32(code).unwrap_or('\u{FFFD}'));
    }
    let c = match entity {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" | "NBSP" | "ensp" | "emsp" | "thinsp" | "numsp" => ' ',
        "zwnj" => '\u{200C}',
        "zwj" => '\u{200D}',
        "shy" => '\u{00AD}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "times" => '×',
        "rarr" => '→',
        "larr" => '←',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "Eacute" => 'É',
        "egrave" => 'è',
        "agrave" => 'à',
        "aacute" => 'á',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "ccedil" => 'ç',
        "atilde" => 'ã',
        "otilde" => 'õ',
        "ecirc" => 'ê',
        "ocirc" => 'ô',
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_size_follows_inheritance() {
        let doc = to_document(
            r#"<div style="font-size:0;line-height:0"><div style="display:inline-block;font-size:16px">Code 482913</div></div>
            <div style="font-size:0px">Preheader 111111</div>
            <div style="font-size:1px;color:#fff">Tiny 222222</div>
            <div style="display:none"><p style="font-size:16px">Gone 333333</p></div>
            <style>.body{font-size:16px}</style><div style="font-size:0" class="body">Inline 444444</div>"#,
        );
        let seen: Vec<_> = doc.blocks.iter().map(|b| (b.text.as_str(), b.hidden)).collect();
        assert_eq!(
            seen,
            [
                ("Code 482913", false),
                ("Preheader 111111", true),
                ("Tiny 222222", true),
                ("Gone 333333", true),
                ("Inline 444444", true)
            ],
            "a child's own font size undoes a zero-size wrapper; display:none is for good; inline beats a class"
        );
    }

    #[test]
    fn hidden_preheader_and_emphasis() {
        let doc = to_document(
            r#"<style>.ph{display:none}.big{font-size:32px}</style><div class="ph">Your code 111111</div>
            <p>Your code:</p><p class="big">4&nbsp;8&nbsp;3 920</p><a href="https://x.test/v?a=1&amp;b=2" style="background:#00f">Verify</a>"#,
        );
        assert!(doc.blocks[0].hidden, "class rule hides the preheader");
        let code = doc.blocks.iter().find(|b| b.text.starts_with('4')).expect("code block");
        assert_eq!(code.emphasis_at(0, 3), 2, "class rule makes the code big");
        assert_eq!(doc.links[0].href, "https://x.test/v?a=1&b=2");
        assert!(doc.links[0].button);
        assert_eq!(doc.links[0].text, "Verify");
    }

    #[test]
    fn class_rules_apply_from_their_sheet_on_and_up_to_the_limit_in_order() {
        let doc = to_document(
            r#"<p class="x">before</p><style>.X{display:none}</style><p class="x">after</p><p class="y">other</p>"#,
        );
        let hidden: Vec<_> = doc.blocks.iter().map(|b| (b.text.as_str(), b.hidden)).collect();
        assert_eq!(hidden, [("before", false), ("after", true), ("other", false)], "a sheet acts on what follows it");

        let mut css = String::from("<style>.big{font-size:32px}");
        for i in 0..MAX_CLASSES + 10 {
            css.push_str(&format!(".k{i}{{display:none}}"));
        }
        let html = format!(
            r#"{css}</style><p class="k0">first</p><p class="k{}">late</p><p class="big">42</p>"#,
            MAX_CLASSES + 5
        );
        let doc = to_document(&html);
        let hidden: Vec<_> = doc.blocks.iter().map(|b| (b.text.as_str(), b.hidden)).collect();
        assert_eq!(
            hidden,
            [("first", true), ("late", false), ("42", false)],
            "only the first {MAX_CLASSES} classes are kept"
        );
        assert_eq!(doc.blocks[2].emphasis_at(0, 2), 2, "a class within the limit still counts");
    }

    #[test]
    fn declarations_in_any_case() {
        let style = |css: &str| inline_style(css);
        assert!(style("DISPLAY:NONE").hidden);
        assert!(style(" max-height : 0PX ; Overflow:Hidden;").hidden, "zero height with hidden overflow hides");
        assert!(!style("max-height:0").hidden, "zero height alone does not hide");
        assert_eq!(style("Font-Size: 32PX !important").emphasis, 2);
        assert_eq!(style("font-size:X-LARGE;font-weight:BOLD").emphasis, 3);
        assert_eq!(style("font-family:'Courier New',Menlo").emphasis, 1);
        assert_eq!(style("font-family:Helvetica,Arial;letter-spacing:0.5px").emphasis, 0);
        assert!(!style("background:URL(x.png)").button);
        assert!(style("background-color:#FFFFFF").button);
        assert!(style("opacity:0").hidden);
        assert!(style("mso-hide:all").hidden);
    }

    #[test]
    fn every_property_is_known_in_any_case() {
        let names = [
            ("display", Prop::Display),
            ("visibility", Prop::Visibility),
            ("opacity", Prop::Opacity),
            ("font-size", Prop::FontSize),
            ("max-height", Prop::Size),
            ("height", Prop::Size),
            ("max-width", Prop::Size),
            ("width", Prop::Size),
            ("overflow", Prop::Overflow),
            ("mso-hide", Prop::MsoHide),
            ("font-weight", Prop::FontWeight),
            ("letter-spacing", Prop::LetterSpacing),
            ("font-family", Prop::FontFamily),
            ("background", Prop::Background),
            ("background-color", Prop::Background),
            ("border-radius", Prop::BorderRadius),
        ];
        for (name, prop) in names {
            assert_eq!(Prop::of(name), Some(prop), "{name}");
            assert_eq!(Prop::of(&name.to_ascii_uppercase()), Some(prop), "{name} in upper case");
        }
        for other in ["color", "padding", "line-height", "margin", "text-align", "border", "min-width", ""] {
            assert_eq!(Prop::of(other), None, "{other}");
        }
    }

    #[test]
    fn tag_info_knows_every_listed_tag() {
        const BLOCKS: &[&str] = &[
            "p",
            "div",
            "td",
            "th",
            "tr",
            "table",
            "tbody",
            "thead",
            "tfoot",
            "li",
            "ul",
            "ol",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "br",
            "center",
            "section",
            "article",
            "header",
            "footer",
            "blockquote",
            "pre",
            "dt",
            "dd",
            "dl",
            "form",
            "nav",
            "main",
            "aside",
            "address",
            "body",
            "html",
            "button",
            "caption",
            "figure",
            "figcaption",
        ];
        const VOIDS: &[&str] = &[
            "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
            "wbr",
        ];
        const RAW: &[&str] =
            &["script", "style", "title", "textarea", "noscript", "template", "xmp", "svg", "head-style"];
        const BOLD: &[&str] = &["b", "strong", "h3", "big", "code", "kbd", "tt", "samp", "pre", "mark"];
        let others = ["font", "a", "span", "em", "i", "u", "o:p", "x", ""];
        for name in [BLOCKS, VOIDS, RAW, BOLD, &others].concat() {
            let info = TagInfo::of(name);
            assert_eq!(info.is(BLOCK), BLOCKS.contains(&name), "{name} ends a block");
            assert_eq!(info.is(VOID), VOIDS.contains(&name), "{name} has no end tag");
            assert_eq!(info.is(RAW_TEXT), RAW.contains(&name), "{name} holds raw text");
            let emphasis = if BOLD.contains(&name) {
                1
            } else if matches!(name, "h1" | "h2") {
                2
            } else {
                0
            };
            assert_eq!(tag_style(info, &[]).emphasis, emphasis, "{name} emphasis");
            let named = (name == "style", name == "a", name == "br", name == "img", name == "font");
            assert_eq!((info.is(STYLE), info.is(A), info.is(BR), info.is(IMG), info.is(FONT)), named, "{name}");
        }
        assert_eq!(tag_style(TagInfo::of("font"), &[("size", "+1")]).emphasis, 2);
        assert_eq!(tag_style(TagInfo::of("font"), &[("size", " 5 ")]).emphasis, 2);
        assert_eq!(tag_style(TagInfo::of("font"), &[("size", "3")]).emphasis, 0);
    }

    #[test]
    fn semicolon_is_the_first_one() {
        for text in
            ["", ";", "a;b;c", "color:#fff", "font-family:\"Ünïcödé\";x", "0123456789abcdef;;", "ÿÿÿÿÿÿÿÿ;", "abcdefgh"]
        {
            assert_eq!(semicolon(text.as_bytes()), text.bytes().position(|b| b == b';'), "{text:?}");
        }
    }

    #[test]
    fn unterminated_constructs_stop_quietly() {
        for html in ["<a href=\"x", "<!-- never", "<script>for(;;)", "<<<<", "&#xFFFFFFFF;&#0;"] {
            let _ = to_document(html);
        }
    }
}
