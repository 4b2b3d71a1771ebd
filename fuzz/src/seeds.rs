//! Seed inputs per target: the repository's own examples and test data, what `fngate init`
//! writes, and the hand-written files in `fuzz/seeds/<target>/` (regressions included). The CI run
//! mutates these; `scripts/fuzz.sh` copies the same set into libFuzzer's corpus.

use std::path::{Path, PathBuf};

use fngate_functions::lang::{Lang, init_files};

/// Every target, as `scripts/fuzz.sh` names them.
pub const TARGETS: [&str; 5] = ["spec", "token", "funcfile", "fdk_response", "path"];

/// The repository root (this crate is `fuzz/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

fn files_in(dir: &Path, suffix: &str) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    // Sorted: the CI run's mutations depend on the order.
    paths.sort();
    paths.into_iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// The seeds of `target` (see the module documentation), in a stable order.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let root = repo_root();
    let mut out = files_in(&root.join("fuzz/seeds").join(target), "");
    match target {
        "spec" => {
            out.extend(files_in(&root.join("examples"), ".json"));
            out.extend(files_in(&root.join("crates/fngate-spec/tests/data"), ".json"));
        }
        "funcfile" => {
            for lang in [Lang::Python, Lang::Node] {
                for trigger in [false, true] {
                    for (name, text) in init_files(lang, "hello", trigger, None) {
                        if name == "func.yaml" {
                            out.push(text.into_bytes());
                        }
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// The libFuzzer dictionary of `target` (`fuzz/dict/<target>.dict`), as tokens.
pub fn dictionary(target: &str) -> Vec<Vec<u8>> {
    let path = repo_root().join("fuzz/dict").join(format!("{target}.dict"));
    std::fs::read_to_string(path)
        .map(|text| crate::mutate::parse_dict(&text))
        .unwrap_or_default()
}
