//! `.fnignore`, read as the `fn` CLI reads it (`fnproject/cli` `commands/watch.go`,
//! `loadWatchIgnore` / `shouldIgnore`): one pattern per line, blank lines and lines starting with
//! `#` skipped, surrounding spaces trimmed. A path is ignored when a pattern equals one of its
//! segments, or (for a pattern without `/`) glob-matches one of its segments, or glob-matches the
//! whole relative path, with Go's `filepath.Match` rules (`*`, `?`, `[...]`, `\` escapes; `*` and
//! `?` never match `/`). There is no negation (`!`), as in `fn`.
//!
//! The defaults are `fn`'s (`.git`, `.fn`, `node_modules`, `target`, `dist`, `vendor`,
//! `Dockerfile-fn-tmp*`) plus what fngate itself never ships (`.venv`, `__pycache__`,
//! `.pip_cache`: local environments, rebuilt on the server).

use std::path::Path;

/// The file read from the function directory.
pub const FILE_NAME: &str = ".fnignore";

/// Ignored whatever `.fnignore` says.
pub const DEFAULTS: [&str; 10] = [
    ".git",
    ".fn",
    "node_modules",
    "target",
    "dist",
    "vendor",
    "Dockerfile-fn-tmp*",
    ".venv",
    "__pycache__",
    ".pip_cache",
];

/// The patterns in force for one function directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreRules {
    patterns: Vec<String>,
    /// Whether a `.fnignore` was read.
    pub from_file: bool,
}

impl IgnoreRules {
    /// No pattern at all (the server re-packs exactly what it unpacked).
    pub fn none() -> IgnoreRules {
        IgnoreRules::default()
    }

    /// The defaults plus `dir/.fnignore` when there is one.
    pub fn load(dir: &Path) -> std::io::Result<IgnoreRules> {
        let mut rules = IgnoreRules {
            patterns: DEFAULTS.iter().map(|p| p.to_string()).collect(),
            from_file: false,
        };
        match std::fs::read_to_string(dir.join(FILE_NAME)) {
            Ok(text) => {
                rules.add_lines(&text);
                rules.from_file = true;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        Ok(rules)
    }

    /// Adds the patterns of `.fnignore` text.
    pub fn add_lines(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                self.patterns.push(line.to_string());
            }
        }
    }

    /// Whether `rel` (relative to the function directory, `/`-separated) is ignored.
    pub fn is_ignored(&self, rel: &str) -> bool {
        let segments: Vec<&str> = rel.split('/').collect();
        self.patterns.iter().any(|pattern| {
            let segment_hit = segments
                .iter()
                .any(|s| s == pattern || (!pattern.contains('/') && glob_match(pattern, s)));
            segment_hit || glob_match(pattern, rel)
        })
    }
}

/// Go's `filepath.Match` on `/`-separated names; a malformed pattern matches nothing (Go
/// returns `ErrBadPattern`, which `fn` treats as no match).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n).unwrap_or(false)
}

fn matches(p: &[char], n: &[char]) -> Option<bool> {
    match p.first() {
        None => Some(n.is_empty()),
        Some('*') => {
            // Collapse runs of `*`; try every split that does not cross a `/`.
            let rest = &p[1..];
            let mut i = 0;
            loop {
                if matches(rest, &n[i..])? {
                    return Some(true);
                }
                if i == n.len() || n[i] == '/' {
                    return Some(false);
                }
                i += 1;
            }
        }
        Some('?') => match n.first() {
            Some(c) if *c != '/' => matches(&p[1..], &n[1..]),
            _ => {
                check_rest(&p[1..])?;
                Some(false)
            }
        },
        Some('[') => {
            let (hit, used) = class(&p[1..], n.first().copied())?;
            if hit {
                matches(&p[1 + used..], &n[1..])
            } else {
                Some(false)
            }
        }
        Some('\\') => {
            let c = *p.get(1)?;
            if n.first() == Some(&c) {
                matches(&p[2..], &n[1..])
            } else {
                check_rest(&p[2..])?;
                Some(false)
            }
        }
        Some(c) => {
            if n.first() == Some(c) {
                matches(&p[1..], &n[1..])
            } else {
                check_rest(&p[1..])?;
                Some(false)
            }
        }
    }
}

/// Go reports a bad pattern even when an earlier part already failed to match.
fn check_rest(p: &[char]) -> Option<()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                p.get(i + 1)?;
                i += 2;
            }
            '[' => {
                let (_, used) = class(&p[i + 1..], None)?;
                i += 1 + used;
            }
            _ => i += 1,
        }
    }
    Some(())
}

/// A `[...]` class after its `[`: (whether `c` is in it, characters used including `]`);
/// `None` when malformed.
fn class(p: &[char], c: Option<char>) -> Option<(bool, usize)> {
    let mut i = 0;
    let negated = p.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        // Go: an unescaped `-` or `]` where a range starts is a bad pattern.
        let lo = escaped(p, &mut i)?;
        let hi = if p.get(i) == Some(&'-') && p.get(i + 1) != Some(&']') {
            i += 1;
            escaped(p, &mut i)?
        } else {
            lo
        };
        if let Some(c) = c
            && lo <= c
            && c <= hi
        {
            hit = true;
        }
    }
    let hit = match c {
        Some('/') | None => false,
        Some(_) => hit != negated,
    };
    Some((hit, i))
}

fn escaped(p: &[char], i: &mut usize) -> Option<char> {
    let mut ch = *p.get(*i)?;
    if ch == '-' || ch == ']' {
        return None;
    }
    if ch == '\\' {
        *i += 1;
        ch = *p.get(*i)?;
    }
    *i += 1;
    Some(ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match_rules() {
        assert!(glob_match("*.log", "debug.log"));
        assert!(!glob_match("*.log", "logs/debug.log"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "a/c"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("[^a-c]x", "dx"));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("\\*", "x"));
        assert!(glob_match("tests/*.py", "tests/t.py"));
        assert!(!glob_match("[", "["), "malformed matches nothing");
        assert!(!glob_match("x[", "y"), "malformed even after a mismatch");
    }

    #[test]
    fn fnignore_lines_segments_and_paths() {
        let mut rules = IgnoreRules::none();
        rules.add_lines("# comment\n\n  secrets.txt  \n*.log\ntests/fixtures\n");
        assert!(rules.is_ignored("secrets.txt"));
        assert!(rules.is_ignored("sub/secrets.txt"), "a segment anywhere");
        assert!(rules.is_ignored("a/b/debug.log"));
        assert!(rules.is_ignored("tests/fixtures"));
        assert!(!rules.is_ignored("tests/fixtures2"));
        assert!(!rules.is_ignored("func.py"));
        assert!(!rules.is_ignored("# comment"));
    }

    #[test]
    fn defaults_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let rules = IgnoreRules::load(dir.path()).unwrap();
        assert!(!rules.from_file);
        assert!(rules.is_ignored(".git"));
        assert!(rules.is_ignored("pkg/node_modules"));
        assert!(rules.is_ignored("Dockerfile-fn-tmp123"));
        std::fs::write(dir.path().join(FILE_NAME), "big.bin\n").unwrap();
        let rules = IgnoreRules::load(dir.path()).unwrap();
        assert!(rules.from_file && rules.is_ignored("big.bin") && rules.is_ignored(".venv"));
    }
}
