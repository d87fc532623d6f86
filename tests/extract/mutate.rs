//! A deterministic mutation run over the corpus: flipped bytes, cut messages, spliced
//! halves, repeated chunks. It stands in for `cargo fuzz` where no nightly toolchain exists and
//! runs in every `cargo test`; the libFuzzer target lives in `src-tauri/extract/fuzz`.

use crate::corpus;
use crate::golden::corpus_dir;

/// A small xorshift generator: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn mutate(rng: &mut Rng, a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = a.to_vec();
    match rng.below(6) {
        0 => {
            for _ in 0..1 + rng.below(32) {
                let i = rng.below(out.len());
                if let Some(byte) = out.get_mut(i) {
                    *byte = rng.next() as u8;
                }
            }
        }
        1 => out.truncate(rng.below(out.len() + 1)),
        2 => {
            let cut = rng.below(out.len() + 1);
            out.truncate(cut);
            out.extend_from_slice(&b[rng.below(b.len() + 1)..]);
        }
        3 => {
            let start = rng.below(out.len() + 1);
            let end = (start + rng.below(256)).min(out.len());
            let chunk = out[start..end].to_vec();
            for _ in 0..rng.below(64) {
                out.splice(start..start, chunk.iter().copied());
            }
        }
        4 => {
            let tokens: [&[u8]; 8] =
                [b"<", b"--", b"=?utf-8?B?", b"\r\n\r\n", b"&#", b"<a href=\"", b"boundary=", b"="];
            for _ in 0..1 + rng.below(16) {
                let at = rng.below(out.len() + 1);
                let t = tokens[rng.below(tokens.len())];
                out.splice(at..at, t.iter().copied());
            }
        }
        _ => {
            let start = rng.below(out.len() + 1);
            let end = (start + rng.below(4096)).min(out.len());
            out.drain(start..end);
        }
    }
    out
}

#[test]
fn mutated_corpus_never_panics() {
    let files = corpus::messages(&corpus_dir());
    let raws: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    assert!(!raws.is_empty(), "the corpus must be there to mutate");
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let rounds = 3_000;
    for _ in 0..rounds {
        let a = &raws[rng.below(raws.len())];
        let b = &raws[rng.below(raws.len())];
        let input = mutate(&mut rng, a, b);
        let got = mailwatch_extract::extract(&input);
        assert!(got.confidence.is_finite() && (0.0..=1.0).contains(&got.confidence));
        if let Some(code) = &got.code {
            assert!(
                code.len() >= 4 && code.len() <= 10 && code.chars().all(|c| c.is_ascii_alphanumeric()),
                "code {code:?} is as typed"
            );
        }
    }
}
