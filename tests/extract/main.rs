//! Tests of the extractor: the golden corpus, the candidates and their explanation, robustness against hostile input, and a
//! deterministic mutation run over the corpus (the stable-toolchain stand-in for fuzzing).

mod candidates;
mod corpus;
mod golden;
mod mutate;
mod robustness;
