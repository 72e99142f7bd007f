//! ferryd's settings as a person meets them: `--help` and the table in
//! docs/configuration.md name the same settings with the same defaults, and a start with a
//! bad setting stops with one line naming it and where it was found.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output};

/// What one source says about a setting: its variable and its default.
#[derive(Debug, PartialEq, Eq)]
struct Described {
    variable: String,
    default: Option<String>,
}

/// Runs ferryd with `args` and no environment but `env`.
fn ferryd(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferryd"))
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("ferryd runs")
}

/// Every setting `ferryd --help` lists, by flag.
fn settings_in_help() -> BTreeMap<String, Described> {
    let output = ferryd(&["--help"], &[]);
    assert!(output.status.success(), "ferryd --help fails");
    let help = String::from_utf8(output.stdout).expect("help is UTF-8");
    let mut settings = BTreeMap::new();
    let mut flag: Option<String> = None;
    let mut described = Described {
        variable: String::new(),
        default: None,
    };
    let mut finish = |flag: Option<String>, described: Described| {
        if let Some(flag) = flag.filter(|_| !described.variable.is_empty()) {
            settings.insert(flag, described);
        }
    };
    for line in help.lines() {
        let trimmed = line.trim();
        if line.starts_with("      --") {
            finish(
                flag.take(),
                std::mem::replace(
                    &mut described,
                    Described {
                        variable: String::new(),
                        default: None,
                    },
                ),
            );
            flag = trimmed.split_whitespace().next().map(str::to_owned);
        } else if let Some(env) = trimmed.strip_prefix("[env: ") {
            let name = env.trim_end_matches(']');
            described.variable = name.split('=').next().unwrap_or(name).to_owned();
        } else if let Some(default) = trimmed.strip_prefix("[default: ") {
            described.default = Some(default.trim_end_matches(']').to_owned());
        }
    }
    finish(flag, described);
    settings
}

/// Every setting with a flag in docs/configuration.md's table, by flag,
/// its default as the table writes it.
fn settings_in_the_manual() -> BTreeMap<String, Described> {
    let manual = include_str!("../docs/configuration.md");
    let table = manual
        .strip_prefix("# Configuration\n")
        .expect("docs/configuration.md starts with its Configuration heading");
    let mut settings = BTreeMap::new();
    for row in table.lines().take_while(|line| !line.starts_with("## ")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        if cells.len() < 5 || !cells[1].starts_with('`') {
            continue;
        }
        let unquote = |cell: &str| cell.trim_matches('`').to_owned();
        if cells[2].is_empty() {
            continue;
        }
        settings.insert(
            unquote(cells[2]),
            Described {
                variable: unquote(cells[1]),
                default: Some(cells[3].to_owned()).filter(|cell| !cell.is_empty()),
            },
        );
    }
    settings
}

#[test]
fn the_manual_and_help_name_the_same_settings_with_the_same_defaults() {
    let help = settings_in_help();
    let manual = settings_in_the_manual();
    assert!(help.len() > 40, "help lists {} settings", help.len());
    let in_help: Vec<&String> = help.keys().collect();
    let in_manual: Vec<&String> = manual.keys().collect();
    assert_eq!(in_help, in_manual, "the flags differ");
    for (flag, described) in &help {
        let written = &manual[flag];
        assert_eq!(
            written.variable, described.variable,
            "{flag}: the variables differ"
        );
        let cell = written.default.as_deref().unwrap_or_default();
        match &described.default {
            Some(default) => {
                assert_eq!(cell, format!("`{default}`"), "{flag}: the defaults differ")
            }
            None => assert!(
                !(cell.starts_with('`') && cell.ends_with('`') && cell.matches('`').count() == 2),
                "{flag} has no default in --help, but docs/configuration.md gives {cell}"
            ),
        }
    }
}

/// Asserts that `output` is a refused start: one line on standard error,
/// which holds every one of `needles`.
fn assert_refused(output: &Output, needles: &[&str]) {
    assert!(!output.status.success(), "ferryd started");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{stderr:?} does not name {needle:?}"
        );
    }
}

#[test]
fn a_bad_setting_from_any_source_stops_the_start_with_one_line_naming_it() {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    file.write_all(b"bind = \"127.0.0.1:0\"\nsweep_interval = \"sometimes\"\n")
        .expect("writing it");
    let path = file.path().to_str().expect("a UTF-8 path");
    assert_refused(&ferryd(&["--config", path], &[]), &["sweep_interval", path]);
    assert_refused(
        &ferryd(&[], &[("FERRY_CONFIG", path)]),
        &["sweep_interval", path],
    );
    assert_refused(
        &ferryd(&[], &[("FERRY_MAX_CONNECTIONS", "many")]),
        &["FERRY_MAX_CONNECTIONS", "environment"],
    );
    assert_refused(
        &ferryd(&["--owner-rate", "fast"], &[]),
        &["--owner-rate", "command line"],
    );
    assert_refused(
        &ferryd(&["--body-idle-timeout", "1ms"], &[]),
        &["FERRY_BODY_IDLE_TIMEOUT", "command line"],
    );
    assert_refused(
        &ferryd(&[], &[("FERRY_LISTEN_BACKLOG", "0")]),
        &["FERRY_LISTEN_BACKLOG", "environment"],
    );
}

#[test]
fn an_unknown_key_in_the_file_stops_the_start_naming_it() {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    file.write_all(b"bind = \"127.0.0.1:0\"\nmax_file = \"1GiB\"\n")
        .expect("writing it");
    let path = file.path().to_str().expect("a UTF-8 path");
    assert_refused(
        &ferryd(&["--config", path], &[]),
        &["unknown setting `max_file`", path],
    );
}

#[test]
fn chunks_larger_than_a_bucket_copies_at_once_stop_the_start_on_a_bucket() {
    assert_refused(
        &ferryd(
            &[],
            &[
                ("FERRY_STORE", "s3://ferry-bucket/files"),
                ("FERRY_MAX_CHUNK_SIZE", "6GiB"),
                ("FERRY_MAX_FILE_SIZE", "1TiB"),
            ],
        ),
        &["FERRY_MAX_CHUNK_SIZE", "5 GiB"],
    );
    assert_refused(
        &ferryd(&["--merge-attempts", "0"], &[]),
        &["FERRY_MERGE_ATTEMPTS"],
    );
}

#[test]
fn redirects_to_presigned_urls_need_a_bucket_and_a_short_lifetime() {
    assert_refused(
        &ferryd(&[], &[("FERRY_DOWNLOAD_REDIRECT", "presigned")]),
        &["FERRY_DOWNLOAD_REDIRECT", "s3://"],
    );
    assert_refused(
        &ferryd(&[], &[("FERRY_DOWNLOAD_REDIRECT_TTL", "2h")]),
        &["FERRY_DOWNLOAD_REDIRECT_TTL"],
    );
    assert_refused(
        &ferryd(&[], &[("FERRY_S3_MIN_PART_SIZE", "10KiB")]),
        &["FERRY_S3_MIN_PART_SIZE"],
    );
}
