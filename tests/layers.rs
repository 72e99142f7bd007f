//! The server's layers, held to the one direction data flows in:
//! http → upload (the domain) → meta and blob (the stores) → ids and the
//! running hash.
//! Each module may name only the modules and crates its layer allows,
//! outside its unit tests.

use std::fs;
use std::path::{Path, PathBuf};

/// A layer: the source files it holds and what they must never name.
struct Layer {
    name: &'static str,
    files: fn(&str) -> bool,
    forbidden: &'static [&'static str],
}

const LAYERS: &[Layer] = &[
    Layer {
        name: "ids, the running hash and range (the leaves)",
        files: |path| {
            path == "src/ids.rs" || path == "src/running_hash.rs" || path.starts_with("src/range")
        },
        forbidden: &[
            "crate::http",
            "crate::error",
            "crate::upload",
            "crate::meta",
            "crate::blob",
            "crate::startup",
            "crate::config",
            "actix",
            "sqlx",
            "object_store",
        ],
    },
    Layer {
        name: "the stores (meta, blob)",
        files: |path| path.starts_with("src/meta") || path.starts_with("src/blob"),
        forbidden: &[
            "crate::http",
            "crate::error",
            "crate::upload",
            "crate::startup",
            "crate::config",
            "actix",
        ],
    },
    Layer {
        name: "the domain (upload)",
        files: |path| path.starts_with("src/upload"),
        forbidden: &[
            "crate::http",
            "crate::error",
            "crate::startup",
            "crate::config",
            "actix",
            "sqlx",
            "object_store",
        ],
    },
    Layer {
        name: "http and its error boundary",
        files: |path| path.starts_with("src/http") || path == "src/error.rs",
        forbidden: &[
            "crate::meta",
            "crate::blob",
            "crate::startup",
            "crate::config",
            "sqlx",
            "object_store",
        ],
    },
];

fn rust_files(folder: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(folder).expect("a readable source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The source without comments and without the items marked
/// `#[cfg(test)]` (unit-test modules, test helpers), each left out up to
/// its end: the `;` or the closing brace that ends it, counted outside
/// strings, characters and comments.
fn production_code(source: &str) -> String {
    const TEST_ONLY: &str = "#[cfg(test)]";
    let code: Vec<char> = without_comments(source).chars().collect();
    let marker: Vec<char> = TEST_ONLY.chars().collect();
    let mut kept = String::new();
    let mut at = 0;
    while at < code.len() {
        if code[at..].starts_with(&marker) {
            at = item_end(&code, at + marker.len());
            continue;
        }
        let next = literal_end(&code, at).unwrap_or(at + 1);
        kept.extend(&code[at..next]);
        at = next;
    }
    kept
}

/// The source with its line and block comments (doc comments too) left out.
fn without_comments(source: &str) -> String {
    let code: Vec<char> = source.chars().collect();
    let mut kept = String::new();
    let mut at = 0;
    while at < code.len() {
        if code[at..].starts_with(&['/', '/']) {
            while at < code.len() && code[at] != '\n' {
                at += 1;
            }
        } else if code[at..].starts_with(&['/', '*']) {
            let mut depth = 0;
            loop {
                assert!(at < code.len(), "a block comment that never ends");
                if code[at..].starts_with(&['/', '*']) {
                    depth += 1;
                    at += 2;
                } else if code[at..].starts_with(&['*', '/']) {
                    depth -= 1;
                    at += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    at += 1;
                }
            }
        } else {
            let next = literal_end(&code, at).unwrap_or(at + 1);
            kept.extend(&code[at..next]);
            at = next;
        }
    }
    kept
}

/// Where the item starting at `start` ends: after its first `;` outside
/// brackets, or after the brace that closes its first braces.
fn item_end(code: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut at = start;
    while at < code.len() {
        if let Some(next) = literal_end(code, at) {
            at = next;
            continue;
        }
        match code[at] {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth -= 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return at + 1;
                }
            }
            ';' if depth == 0 => return at + 1,
            _ => {}
        }
        at += 1;
    }
    panic!("a #[cfg(test)] item that never ends");
}

/// Where the string or character literal starting at `at` ends, if one
/// starts there: `"…"`, `b"…"`, `r#"…"#`, `br"…"`, `'x'`, `'\n'`; a
/// lifetime is not one.
fn literal_end(code: &[char], at: usize) -> Option<usize> {
    let starts_a_token = at == 0 || !(code[at - 1].is_alphanumeric() || code[at - 1] == '_');
    let mut quote = at;
    if starts_a_token && code[at] == 'b' {
        quote += 1;
    }
    if starts_a_token && code.get(quote) == Some(&'r') {
        let hashes = code[quote + 1..].iter().take_while(|&&c| c == '#').count();
        if code.get(quote + 1 + hashes) != Some(&'"') {
            return None;
        }
        let closing: Vec<char> = std::iter::once('"')
            .chain(std::iter::repeat_n('#', hashes))
            .collect();
        let body = quote + 2 + hashes;
        let end = (body..code.len()).find(|&i| code[i..].starts_with(&closing))?;
        return Some(end + closing.len());
    }
    match code.get(quote) {
        Some('"') if quote == at || starts_a_token => {
            let mut i = quote + 1;
            while i < code.len() {
                match code[i] {
                    '\\' => i += 2,
                    '"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
            panic!("a string that never ends");
        }
        Some('\'') => {
            if code.get(quote + 1) == Some(&'\\') {
                let close = (quote + 3..code.len()).find(|&i| code[i] == '\'')?;
                Some(close + 1)
            } else if code.get(quote + 2) == Some(&'\'') {
                Some(quote + 3)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn names(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        let starts_a_path = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let ends_a_segment = !after.is_some_and(|c| c.is_alphanumeric() || c == '_');
        starts_a_path && ends_a_segment
    })
}

#[test]
fn no_module_names_a_layer_above_it_or_a_crate_its_layer_keeps_out() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut checked = 0;
    let mut breaches = Vec::new();
    for file in &files {
        let path = file
            .strip_prefix(root)
            .expect("under the package")
            .to_string_lossy()
            .replace('\\', "/");
        let Some(layer) = LAYERS.iter().find(|layer| (layer.files)(&path)) else {
            continue;
        };
        checked += 1;
        let code = production_code(&fs::read_to_string(file).expect("a readable file"));
        for name in layer.forbidden {
            if names(&code, name) {
                breaches.push(format!("{path} ({}) names {name}", layer.name));
            }
        }
    }
    assert!(checked >= 30, "only {checked} files were checked");
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

#[test]
fn the_check_reads_past_unit_tests_and_skips_only_them_and_comments() {
    let source = r#"
use crate::ids::OwnerId;
#[cfg(test)]
mod tests {
    use crate::meta::Session;
    fn braces() -> [u8; 2] { let _ = ("}", '}', r"{"); [0; 2] }
}
#[cfg(test)]
use crate::blob::BlobStore;
/* crate::startup, in a comment */
fn later<'a>(_: &'a str) -> char { '{' }
pub use crate::http::Owner; // crate::config
"#;
    let code = production_code(source);
    assert!(names(&code, "crate::http"), "{code}");
    assert!(code.contains("fn later<'a>"), "{code}");
    for test_only in [
        "crate::meta",
        "crate::blob",
        "crate::startup",
        "crate::config",
    ] {
        assert!(!names(&code, test_only), "{test_only} in {code}");
    }
}

#[test]
fn the_check_sees_a_forbidden_path_but_not_a_longer_name() {
    assert!(names("use crate::meta::Session;", "crate::meta"));
    assert!(!names("use crate::metadata;", "crate::meta"));
    assert!(names("sqlx::query(\"\")", "sqlx"));
    assert!(!names("my_sqlx_helper()", "sqlx"));
}
