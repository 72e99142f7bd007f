//! The layering of settings, checked with explicit environments.

use std::collections::HashMap;
use std::io::Write;

use super::*;
use crate::config::Settings;

/// The settings alone, as ferryd's command line holds them.
#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

/// A configuration file holding `text`.
fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    file.write_all(text.as_bytes()).expect("writing it");
    file
}

/// Loads the settings from `args` and exactly the variables in `env`.
fn load_with(args: &[&str], env: &[(&str, &str)]) -> Result<(Settings, Provenance), LoadError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let args = std::iter::once("ferryd").chain(args.iter().copied());
    load::<Cli>(args, |name| env.get(name).cloned())
        .map(|(cli, provenance)| (cli.settings, provenance))
}

fn refusal_of(args: &[&str], env: &[(&str, &str)]) -> String {
    match load_with(args, env) {
        Err(LoadError::Invalid(line)) => line,
        Err(LoadError::Usage(error)) => panic!("a usage error instead of a refusal: {error}"),
        Ok((settings, _)) => panic!("accepted: {settings:?}"),
    }
}

const GIB: u64 = 1 << 30;

#[test]
fn the_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let file = config_file("max_file_size = \"1GiB\"\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let env = [("FERRY_MAX_FILE_SIZE", "2GiB")];

    let (settings, provenance) =
        load_with(&["--config", path, "--max-file-size", "3GiB"], &env).expect("valid");
    assert_eq!(settings.max_file_size, 3 * GIB);
    assert_eq!(
        provenance.source("FERRY_MAX_FILE_SIZE"),
        Some(&Source::CommandLine)
    );

    let (settings, provenance) = load_with(&["--config", path], &env).expect("valid");
    assert_eq!(settings.max_file_size, 2 * GIB);
    assert_eq!(
        provenance.source("FERRY_MAX_FILE_SIZE"),
        Some(&Source::Environment)
    );

    let (settings, provenance) = load_with(&["--config", path], &[]).expect("valid");
    assert_eq!(settings.max_file_size, GIB);
    assert_eq!(
        provenance.source("FERRY_MAX_FILE_SIZE"),
        Some(&Source::File(file.path().to_owned()))
    );

    let (settings, provenance) = load_with(&[], &[]).expect("valid");
    assert_eq!(settings.max_file_size, 100 * GIB);
    assert_eq!(provenance.source("FERRY_MAX_FILE_SIZE"), None);
}

#[test]
fn the_file_may_be_named_by_its_variable_and_give_any_kind_of_setting() {
    let file = config_file(
        "bind = \"127.0.0.1:9000\"\n\
         database_url = \"postgres://ferry@db/ferry\"\n\
         session_ttl = \"2h\"\n\
         max_chunks = 500\n\
         s3_virtual_hosted = true\n\
         insecure_no_auth = true\n\
         log_format = \"json\"\n\
         downloads = \"signed\"\n\
         download_key = \"a key of sixteen bytes or more\"\n\
         cors_origins = [\"https://a.example\", \"https://b.example\"]\n",
    );
    let path = file.path().to_str().expect("a UTF-8 path");
    let (settings, _) = load_with(&[], &[("FERRY_CONFIG", path)]).expect("valid");
    assert_eq!(settings.bind.to_string(), "127.0.0.1:9000");
    assert!(settings.uses_postgres());
    assert_eq!(settings.session_ttl, std::time::Duration::from_secs(7200));
    assert_eq!(settings.max_chunks, 500);
    assert!(settings.bucket.s3_virtual_hosted);
    assert!(settings.security.insecure_no_auth);
    assert_eq!(settings.log_format, crate::telemetry::LogFormat::Json);
    assert_eq!(
        settings.security.downloads,
        crate::config::DownloadAccess::Signed
    );
    assert_eq!(
        settings.security.cors_origins,
        ["https://a.example", "https://b.example"]
    );
}

#[test]
fn a_list_in_the_environment_replaces_the_files_list() {
    let file = config_file("cors_origins = [\"https://a.example\"]\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let env = [("FERRY_CORS_ORIGINS", "https://b.example,https://c.example")];
    let (settings, _) = load_with(&["--config", path], &env).expect("valid");
    assert_eq!(
        settings.security.cors_origins,
        ["https://b.example", "https://c.example"]
    );
}

#[test]
fn an_unknown_key_in_the_file_is_refused_by_name() {
    let file = config_file("bind = \"127.0.0.1:9000\"\nmax_file_sise = \"1GiB\"\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let line = refusal_of(&["--config", path], &[]);
    assert_eq!(line, format!("unknown setting `max_file_sise` in {path}"));
}

#[test]
fn the_file_cannot_name_another_file() {
    let file = config_file("config = \"/etc/other.toml\"\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let line = refusal_of(&["--config", path], &[]);
    assert_eq!(line, format!("unknown setting `config` in {path}"));
}

#[test]
fn an_invalid_value_names_the_setting_and_where_it_was_found() {
    let file = config_file("max_chunk_size = \"a lot\"\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let line = refusal_of(&["--config", path], &[]);
    assert!(
        line.starts_with(&format!("invalid `max_chunk_size` from {path}: ")),
        "{line}"
    );

    let line = refusal_of(&[], &[("FERRY_SESSION_TTL", "forever")]);
    assert!(
        line.starts_with("invalid FERRY_SESSION_TTL from the environment: "),
        "{line}"
    );

    let line = refusal_of(&["--bind", "anywhere"], &[]);
    assert!(line.contains("--bind"), "{line}");
    assert!(line.ends_with("(from the command line)"), "{line}");

    for line in [
        refusal_of(&["--config", path], &[]),
        refusal_of(&[], &[("FERRY_SESSION_TTL", "forever")]),
        refusal_of(&["--bind", "anywhere"], &[]),
    ] {
        assert!(!line.contains('\n'), "{line:?} is one line");
    }
}

#[test]
fn a_value_the_file_gives_with_the_wrong_type_is_refused() {
    let file = config_file("max_chunks = 1.5\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let line = refusal_of(&["--config", path], &[]);
    assert!(
        line.starts_with(&format!("invalid `max_chunks` from {path}: ")),
        "{line}"
    );

    let file = config_file("owner_rate = -3\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let line = refusal_of(&["--config", path], &[]);
    assert!(
        line.starts_with(&format!("invalid `owner_rate` from {path}: ")),
        "{line}"
    );
}

#[test]
fn a_file_that_is_not_toml_is_refused_with_its_line() {
    let file = config_file("bind = \"127.0.0.1:9000\"\nstore = \n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let line = refusal_of(&["--config", path], &[]);
    assert!(
        line.starts_with(&format!("{path}:2 is not valid TOML")),
        "{line}"
    );
}

#[test]
fn a_missing_file_is_refused() {
    let line = refusal_of(&["--config", "/nonexistent/ferry.toml"], &[]);
    assert!(
        line.starts_with("cannot read /nonexistent/ferry.toml"),
        "{line}"
    );
}

#[test]
fn an_explanation_names_where_each_named_setting_came_from() {
    let file = config_file("merge_lease = \"1ms\"\n");
    let path = file.path().to_str().expect("a UTF-8 path");
    let (_, provenance) =
        load_with(&["--config", path], &[("FERRY_MERGE_WAIT", "1s")]).expect("each value parses");
    assert_eq!(
        provenance.explain("FERRY_MERGE_LEASE must be between 300ms and 1h"),
        format!("FERRY_MERGE_LEASE must be between 300ms and 1h (FERRY_MERGE_LEASE from {path})")
    );
    assert_eq!(provenance.explain("FERRY_MERGE_WAITS"), "FERRY_MERGE_WAITS");
}
