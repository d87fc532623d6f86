//! Tests of the extractor: the golden corpus, robustness against hostile input, and a
//! deterministic mutation run over the corpus (the stable-toolchain stand-in for fuzzing).

mod corpus;
mod golden;
mod mutate;
mod robustness;
