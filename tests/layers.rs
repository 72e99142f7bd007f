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

/// The source without its unit tests (`#[cfg(test)]` and everything after)
/// and without comments.
fn production_code(source: &str) -> String {
    let code = match source.find("#[cfg(test)]") {
        Some(tests) => &source[..tests],
        None => source,
    };
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
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
fn the_check_sees_a_forbidden_path_but_not_a_longer_name() {
    assert!(names("use crate::meta::Session;", "crate::meta"));
    assert!(!names("use crate::metadata;", "crate::meta"));
    assert!(names("sqlx::query(\"\")", "sqlx"));
    assert!(!names("my_sqlx_helper()", "sqlx"));
}
