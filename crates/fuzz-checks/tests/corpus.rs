//! Replays every input kept for each fuzz target (`fuzz/corpus/TARGET/`, and every crash ever
//! found, `fuzz/regressions/TARGET/`) through what the target checks, on stable Rust: a parser
//! that regresses on any of them fails here, without libFuzzer.

use std::path::Path;

#[test]
fn every_kept_input_still_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    for (target, check) in fuzz_checks::TARGETS {
        let mut replayed = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(outcome.is_ok(), "{target}: {} fails its check", path.display());
                replayed += 1;
            }
        }
        assert!(replayed >= 5, "{target}: only {replayed} kept inputs; the corpus is missing");
    }
}
