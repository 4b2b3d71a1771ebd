//! `func.yaml` parsing (`fngate_functions::funcfile`) and the version rewrite `fngate deploy`
//! applies to the file afterwards.
//!
//! Invariants beyond "no panic":
//! - an error names a line that exists in the file (when it names one) and renders as text;
//! - an accepted file serialises to YAML that parses back to the same file;
//! - the deploy bump of an accepted file's version, written back with `set_version`, gives a file
//!   that still parses, carries the new version and is otherwise unchanged.

use std::path::Path;

use fngate_functions::funcfile::{self, FuncFile};

const PATH: &str = "fuzz/func.yaml";

/// The fuzz entry; returns whether the file was accepted.
pub fn check(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let parsed = match funcfile::parse(Path::new(PATH), text) {
        Ok(parsed) => parsed,
        Err(err) => {
            let lines = text.lines().count().max(1);
            if let Some(line) = err.line {
                assert!(
                    (1..=lines + 1).contains(&line),
                    "error names line {line} of a {lines}-line file: {err}; input {text:?}"
                );
            }
            assert!(err.to_string().starts_with(PATH), "{err}");
            return false;
        }
    };
    let file = &parsed.file;
    let yaml = serde_yaml_ng::to_string(file).expect("an accepted func.yaml serialises");
    let again = reparse(&yaml, "serialised", text);
    assert_eq!(
        &again, file,
        "round trip through {yaml:?} changed the file; input {text:?}"
    );

    if let Ok(version) = funcfile::bump_version(file.version.as_deref()) {
        let rewritten = funcfile::set_version(text, &version);
        let again = reparse(&rewritten, "version-bumped", text);
        assert_eq!(
            again.version.as_deref(),
            Some(version.as_str()),
            "set_version({version:?}) did not set the version: {rewritten:?}"
        );
        let unchanged = FuncFile {
            version: Some(version.clone()),
            ..file.clone()
        };
        assert_eq!(
            again, unchanged,
            "set_version changed more than the version: {rewritten:?}"
        );
    }
    true
}

fn reparse(text: &str, what: &str, input: &str) -> FuncFile {
    funcfile::parse(Path::new(PATH), text)
        .unwrap_or_else(|e| panic!("the {what} file {text:?} is refused: {e}; input {input:?}"))
        .file
}
