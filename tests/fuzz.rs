//! The fuzz targets of `fuzz/` in every test run: each target's seeds, then a fixed number of
//! seeded mutations of them (bit flips, byte changes, insertions and deletions, boundary
//! numbers, splices of two seeds), as libFuzzer mutates, without its coverage guidance. A
//! panic fails the test, naming the target and writing the input under
//! `target/fuzz-findings/`, where `cargo fuzz run TARGET FILE` replays it. The
//! coverage-guided runs, and what they found, are in `fuzz/README.md`.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Mutated inputs per target: about 20 s for the slowest target (`model`) on 2 cores.
const MUTATIONS: usize = 30_000;

/// SplitMix64: the mutations are the same in every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values at the edges of what readers parse: numbers that overflow, are zero, negative,
/// not finite; separators; bytes that are not UTF-8.
const INTERESTING: [&[u8]; 16] = [
    b"0",
    b"-1",
    b"4294967296",
    b"18446744073709551616",
    b"1e309",
    b"NaN",
    b"null",
    b"\"\"",
    b"[]",
    b"{}",
    b"\t",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xff\xfe",
    b"\xc3",
];

/// One to eight mutations of `input`; `other` is another seed, for splicing.
fn mutate(random: &mut Random, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..1 + random.below(8) {
        let at = random.below(bytes.len() + 1);
        match random.below(7) {
            0 if at < bytes.len() => bytes[at] ^= 1 << random.below(8),
            1 if at < bytes.len() => bytes[at] = random.next() as u8,
            2 => {
                let value = INTERESTING[random.below(INTERESTING.len())];
                bytes.splice(at..at, value.iter().copied());
            }
            3 => {
                let end = (at + 1 + random.below(16)).min(bytes.len());
                bytes.drain(at..end.max(at));
            }
            4 => {
                // A digit run, where readers parse numbers: replaced by an interesting one.
                let end = (at..bytes.len())
                    .find(|&i| !bytes[i].is_ascii_digit())
                    .unwrap_or(bytes.len());
                let value = INTERESTING[random.below(5)];
                bytes.splice(at..end, value.iter().copied());
            }
            5 if !bytes.is_empty() => {
                let start = random.below(bytes.len());
                let end = (start + 1 + random.below(64)).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => {
                let cut = random.below(other.len() + 1);
                bytes.truncate(at);
                bytes.extend_from_slice(&other[cut..]);
            }
        }
    }
    bytes
}

/// The files of `fuzz/seeds/NAME/`.
fn seeds(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(name);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable seed").path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{}: no seed", dir.display());
    paths
        .iter()
        .map(|path| std::fs::read(path).expect("a readable seed"))
        .collect()
}

/// Runs target `name` on its seeds and [`MUTATIONS`] mutations of them.
fn fuzz(name: &str) {
    let (_, target) = *targets::TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .expect("a target of that name");
    let seeds = seeds(name);
    let mut random = Random(
        name.bytes()
            .fold(0, |h, b| h.wrapping_mul(31) ^ u64::from(b)),
    );
    let inputs = seeds.clone().into_iter().chain((0..MUTATIONS).map(|_| {
        let input = &seeds[random.below(seeds.len())];
        let other = &seeds[random.below(seeds.len())];
        mutate(&mut random, input, other)
    }));
    for (index, input) in inputs.enumerate() {
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings");
            let file = dir.join(format!("{name}-{index}"));
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&file, &input))
                .expect("target/ is writable");
            panic!(
                "fuzz target {name} panicked on input {index} ({} bytes), written to {}",
                input.len(),
                file.display()
            );
        }
    }
}

#[test]
fn corpus_reader() {
    fuzz("corpus");
}

#[test]
fn run_configuration() {
    fuzz("config");
}

#[test]
fn tokenizer_file() {
    fuzz("tokenizer");
}

#[test]
fn weights_file() {
    fuzz("weights");
}

#[test]
fn run_model_configuration() {
    fuzz("model");
}

#[test]
fn eval_score_files() {
    fuzz("scores");
}

#[test]
fn every_weights_seed_loads_into_the_micro_model() {
    // A seed that fails early gives the mutations nothing that reaches the deep paths.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/weights");
    for entry in std::fs::read_dir(&dir).expect("weights seeds") {
        let path = entry.expect("a seed").path();
        let loaded = transformer_mt::run::weights::load(targets::micro_model(), &path);
        assert!(loaded.is_ok(), "{}: {:?}", path.display(), loaded.err());
    }
}
