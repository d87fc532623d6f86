//! The structured text both HTML and plain-text bodies turn into.
//!
//! A code's context is mostly local: the label before it, whether it sits on a line or in a cell
//! of its own, whether it is big or bold. A list of blocks (paragraphs, cells, lines) with their
//! emphasis spans and links keeps exactly that, and nothing of the markup.

/// Most blocks kept per body; the rest of a huge body is ignored.
pub const MAX_BLOCKS: usize = 4_000;
/// Most characters of text kept per body (bytes, UTF-8).
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Most links kept per body.
pub const MAX_LINKS: usize = 400;

/// A run of text that a reader sees as one unit: a paragraph, a table cell, a line.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// Visible text with whitespace collapsed to single spaces, trimmed.
    pub text: String,
    /// Emphasised byte ranges of `text` with their strength (1 bold or spaced, 2 large, 3 both).
    pub emphasis: Vec<(usize, usize, u8)>,
    /// True for text a reader does not see (a `display:none` preheader, say).
    pub hidden: bool,
}

impl Block {
    /// The strongest emphasis over the byte range `start..end`.
    pub fn emphasis_at(&self, start: usize, end: usize) -> u8 {
        self.emphasis.iter().filter(|(s, e, _)| *s < end && *e > start).map(|(_, _, level)| *level).max().unwrap_or(0)
    }
}

/// A link the reader can follow.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// Target as written (entities decoded).
    pub href: String,
    /// Visible text of the link, plus the `alt` of any image inside it.
    pub text: String,
    /// Text just before the link in its block and the block before, for "click here" links.
    pub context: String,
    /// Where the text just before the link in its own block only ("If this wasn't you, ...")
    /// starts in `context`, which ends with it: see [`Link::lead`].
    pub lead_start: usize,
    /// Index of the block the link starts in.
    pub block: usize,
    /// Styled as a button (background, padding, border, a `btn` class).
    pub button: bool,
    /// The link holds an image and no text (a logo, a pixel).
    pub image_only: bool,
    /// The link sits in hidden text.
    pub hidden: bool,
}

impl Link {
    /// Text just before the link in its own block only ("If this wasn't you, ...").
    pub fn lead(&self) -> &str {
        self.context.get(self.lead_start..).unwrap_or("")
    }
}

/// A body turned into blocks and links.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// Blocks in reading order, hidden ones included (flagged).
    pub blocks: Vec<Block>,
    /// Links in reading order.
    pub links: Vec<Link>,
    /// True when the body was HTML (emphasis is then meaningful).
    pub from_html: bool,
}

impl Document {
    /// The first visible text, at most `max_chars` characters.
    pub fn snippet(&self, max_chars: usize) -> String {
        let mut out = String::new();
        let mut count = 0;
        for block in self.blocks.iter().filter(|b| !b.hidden && !b.text.is_empty()) {
            if !out.is_empty() {
                if count >= max_chars {
                    break;
                }
                out.push(' ');
                count += 1;
            }
            // As many characters as fit, copied in one piece.
            let room = max_chars.saturating_sub(count);
            let (end, taken) = match block.text.char_indices().nth(room) {
                Some((end, _)) => (end, room),
                None => (block.text.len(), block.text.chars().count()),
            };
            out.push_str(&block.text[..end]);
            count += taken;
        }
        out.trim_end().to_string()
    }

    /// Appends another document's blocks and links after this one's.
    pub fn append(&mut self, mut other: Document) {
        if self.blocks.is_empty() && self.links.is_empty() {
            // The first body (most messages have one): taken whole, not moved item by item.
            other.blocks.truncate(MAX_BLOCKS);
            other.links.truncate(MAX_LINKS);
            other.from_html |= self.from_html;
            *self = other;
            return;
        }
        let offset = self.blocks.len();
        for block in other.blocks {
            if self.blocks.len() >= MAX_BLOCKS {
                break;
            }
            self.blocks.push(block);
        }
        for mut link in other.links {
            if self.links.len() >= MAX_LINKS {
                break;
            }
            link.block += offset;
            self.links.push(link);
        }
        self.from_html |= other.from_html;
    }
}

/// How many leading bytes of `bytes` are printable ASCII that whitespace collapsing leaves as
/// they are: a graphic character first, and each space single and followed by a graphic
/// character. Eight bytes at a time where it can, one at a time where it must.
pub(crate) fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let graphic_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_graphic);
    let mut run = 0;
    loop {
        while let Some(chunk) = bytes.get(run..run + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            // Some byte below a space, or at or above DEL (a carry out of 0xFF comes with a high
            // bit of its own).
            let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
            let high = (word.wrapping_add(ONES) | word) & HIGHS;
            // Spaces flagged (and perhaps a `!` right after one): two flags in a row might be
            // two spaces, so the chunk is left to the byte steps below.
            let spaces = word ^ (ONES * 0x20);
            let spaces = spaces.wrapping_sub(ONES) & !spaces & HIGHS;
            let bad_edge = (run == 0 && chunk[0] == b' ') || (chunk[7] == b' ' && !graphic_at(run + 8));
            if control | high | (spaces & (spaces >> 8)) != 0 || bad_edge {
                break;
            }
            run += 8;
        }
        match bytes.get(run) {
            Some(b) if b.is_ascii_graphic() => run += 1,
            Some(b' ') if run > 0 && graphic_at(run + 1) => run += 2,
            _ => return run,
        }
    }
}

/// Builds blocks from a stream of text pieces, collapsing whitespace and dropping invisible
/// characters (zero-width spaces, soft hyphens) that senders put inside codes.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    doc: Document,
    current: Block,
    pending_space: bool,
    total_bytes: usize,
}

impl BlockBuilder {
    /// A builder for an HTML or a plain-text body.
    pub fn new(from_html: bool) -> Self {
        BlockBuilder { doc: Document { from_html, ..Document::default() }, ..BlockBuilder::default() }
    }

    /// True once the caps are reached; callers stop feeding text.
    pub fn is_full(&self) -> bool {
        self.total_bytes >= MAX_TEXT_BYTES || self.doc.blocks.len() >= MAX_BLOCKS
    }

    /// Index the block being built will have.
    pub fn current_index(&self) -> usize {
        self.doc.blocks.len()
    }

    /// Byte length of the block being built.
    pub fn current_len(&self) -> usize {
        self.current.text.len()
    }

    /// Text of the block being built.
    pub fn current_text(&self) -> &str {
        &self.current.text
    }

    /// Text of the last finished visible block, if any.
    pub fn last_text(&self) -> &str {
        self.doc.blocks.iter().rev().find(|b| !b.hidden).map(|b| b.text.as_str()).unwrap_or("")
    }

    /// Adds text with the given emphasis and visibility.
    pub fn push_text(&mut self, text: &str, emphasis: u8, hidden: bool) {
        if self.is_full() {
            return;
        }
        if hidden != self.current.hidden && !self.current.text.is_empty() {
            self.flush();
        }
        self.current.hidden = hidden;
        if self.current.text.capacity() == 0 {
            // Most blocks are a line or a paragraph: start with room for one.
            self.current.text.reserve(text.len().max(128));
        }
        let start = self.current.text.len();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            // Printable ASCII, the bulk of any text, goes in a run at a time, words and the
            // single spaces between them together: such a space is the one collapsing would leave.
            let run = plain_run(&bytes[i..]);
            if run > 0 {
                if self.pending_space && !self.current.text.is_empty() {
                    self.current.text.push(' ');
                }
                self.pending_space = false;
                self.current.text.push_str(&text[i..i + run]);
                i += run;
                continue;
            }
            let Some(ch) = text[i..].chars().next() else { break };
            i += ch.len_utf8();
            match ch {
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}' => {}
                c if c.is_whitespace() => self.pending_space = true,
                c if c.is_control() => {}
                c => {
                    if self.pending_space && !self.current.text.is_empty() {
                        self.current.text.push(' ');
                    }
                    self.pending_space = false;
                    self.current.text.push(c);
                }
            }
        }
        let end = self.current.text.len();
        self.total_bytes += end - start;
        if emphasis > 0 && end > start {
            // Leading space belongs to no one.
            let s = if self.current.text.as_bytes().get(start) == Some(&b' ') { start + 1 } else { start };
            self.current.emphasis.push((s, end, emphasis.min(3)));
        }
    }

    /// Ends the current block (a paragraph, cell or line break).
    pub fn flush(&mut self) {
        self.pending_space = false;
        if self.current.text.is_empty() {
            self.current.emphasis.clear();
            return;
        }
        if self.doc.blocks.len() < MAX_BLOCKS {
            let block = std::mem::take(&mut self.current);
            self.doc.blocks.push(block);
        } else {
            self.current = Block::default();
        }
    }

    /// Records a link.
    pub fn push_link(&mut self, link: Link) {
        if self.doc.links.len() < MAX_LINKS {
            self.doc.links.push(link);
        }
    }

    /// Mutable access to a recorded link, to finish its text.
    pub fn link_mut(&mut self, index: usize) -> Option<&mut Link> {
        self.doc.links.get_mut(index)
    }

    /// Number of links recorded so far.
    pub fn link_count(&self) -> usize {
        self.doc.links.len()
    }

    /// Finishes the document.
    pub fn finish(mut self) -> Document {
        self.flush();
        self.doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`plain_run`] a byte at a time.
    fn plain_run_bytewise(bytes: &[u8]) -> usize {
        let mut run = 0;
        while let Some(&b) = bytes.get(run) {
            if b.is_ascii_graphic() {
                run += 1;
            } else if b == b' ' && run > 0 && bytes.get(run + 1).is_some_and(u8::is_ascii_graphic) {
                run += 2;
            } else {
                break;
            }
        }
        run
    }

    #[test]
    fn plain_runs_eight_bytes_at_a_time() {
        let texts = [
            "Tip 3: keep your account secure. We will never ask",
            " leading space and more words",
            "two  spaces  here and there",
            "a! b!c !d ! e!!  ! x y z w v u",
            "tab\there and a new\nline in text",
            "ünïcödé in the middle of words",
            "DEL\u{7f} and ~tilde~ at the edges~~~~~~",
            "12345678 12345678 12345678 1234567 ",
        ];
        for text in texts {
            let bytes = text.as_bytes();
            for from in 0..bytes.len() {
                assert_eq!(plain_run(&bytes[from..]), plain_run_bytewise(&bytes[from..]), "{text:?} from {from}");
            }
        }
        for b in 0..=255u8 {
            for at in 0..17 {
                let mut bytes = *b"abcdefgh ijklmno pqr";
                bytes[at] = b;
                assert_eq!(plain_run(&bytes), plain_run_bytewise(&bytes), "byte {b:#x} at {at}");
            }
        }
    }
}
