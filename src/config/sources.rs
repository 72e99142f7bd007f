//! Where settings come from: each setting is taken from the command line,
//! else from its environment variable, else from the TOML file named by
//! `--config` (or `FERRY_CONFIG`), else its default.
//!
//! A setting is any argument of the command that has an environment
//! variable; its key in the file is its name (`max_file_size`). Values are
//! checked source by source, so that a refusal names where the value was
//! found.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, Command, CommandFactory, FromArgMatches};

/// The argument naming the configuration file.
const CONFIG: &str = "config";

/// The largest configuration file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Where a setting's value was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The configuration file at this path.
    File(PathBuf),
    /// The setting's environment variable.
    Environment,
    /// A flag on the command line.
    CommandLine,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "from {}", path.display()),
            Source::Environment => f.write_str("from the environment"),
            Source::CommandLine => f.write_str("from the command line"),
        }
    }
}

/// Why the command line and configuration could not be read.
#[derive(Debug)]
pub enum LoadError {
    /// Help, the version, or a usage mistake: clap prints it and exits.
    Usage(clap::Error),
    /// A refused setting, as one line naming it and where it was found.
    Invalid(String),
}

/// Where each setting that is not at its default was found.
#[derive(Debug, Default)]
pub struct Provenance {
    by_variable: BTreeMap<String, Source>,
}

impl Provenance {
    /// Where the setting with this environment variable was found, unless
    /// it is at its default.
    pub fn source(&self, variable: &str) -> Option<&Source> {
        self.by_variable.get(variable)
    }

    /// `message`, followed by where each setting it names was found.
    pub fn explain(&self, message: &str) -> String {
        let named: Vec<String> = self
            .by_variable
            .iter()
            .filter(|(variable, _)| names_variable(message, variable))
            .map(|(variable, source)| format!("{variable} {source}"))
            .collect();
        if named.is_empty() {
            message.to_owned()
        } else {
            format!("{message} ({})", named.join(", "))
        }
    }
}

/// Parses `args` as `T`, each setting taken from the command line, else
/// from `env`, else from the configuration file, else its default.
pub fn load<T: CommandFactory + FromArgMatches>(
    args: impl IntoIterator<Item = impl Into<OsString>>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(T, Provenance), LoadError> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let described = T::command();
    let mut command = described.clone().mut_args(|arg| arg.env(None));
    let given = match command.try_get_matches_from_mut(&args) {
        Ok(matches) => matches,
        Err(error) => return Err(refusal(error, &described, &args)),
    };
    let on_command_line = |id: &str| given.value_source(id) == Some(ValueSource::CommandLine);
    let file = match config_path(&given, &described, &env) {
        Some(path) => read_file(&path, &described)?,
        None => ConfigFile::default(),
    };

    let mut provenance = Provenance::default();
    for arg in described.get_arguments() {
        let Some(variable) = arg
            .get_env()
            .map(|name| name.to_string_lossy().into_owned())
        else {
            continue;
        };
        let id = arg.get_id().as_str();
        if on_command_line(id) {
            provenance.by_variable.insert(variable, Source::CommandLine);
            continue;
        }
        let (values, source, name) = if let Some(value) = env(&variable) {
            (split(arg, &value), Source::Environment, variable.clone())
        } else if let Some(values) = file.values.get(id) {
            (
                values.clone(),
                Source::File(file.path.clone()),
                format!("`{id}`"),
            )
        } else {
            continue;
        };
        check(arg, &values)
            .map_err(|reason| LoadError::Invalid(format!("invalid {name} {source}: {reason}")))?;
        command = command.mut_arg(id, |arg| arg.default_values(values));
        provenance.by_variable.insert(variable, source);
    }
    let matches = command
        .try_get_matches_from(&args)
        .map_err(LoadError::Usage)?;
    let parsed = T::from_arg_matches(&matches).map_err(LoadError::Usage)?;
    Ok((parsed, provenance))
}

/// The configuration file's path: `--config`, else its variable.
fn config_path(
    given: &clap::ArgMatches,
    described: &Command,
    env: &impl Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    if given.value_source(CONFIG) == Some(ValueSource::CommandLine) {
        return given.get_one::<PathBuf>(CONFIG).cloned();
    }
    let arg = described
        .get_arguments()
        .find(|arg| arg.get_id() == CONFIG)?;
    let variable = arg.get_env()?.to_string_lossy();
    env(&variable)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}

/// The settings a configuration file gives, by key.
#[derive(Debug, Default)]
struct ConfigFile {
    path: PathBuf,
    values: BTreeMap<String, Vec<String>>,
}

/// Reads the TOML file at `path`, refusing keys that name no setting and
/// values that are not strings, numbers, booleans or lists of them.
fn read_file(path: &Path, described: &Command) -> Result<ConfigFile, LoadError> {
    let invalid = |message: String| LoadError::Invalid(message);
    let text = read_bounded(path)
        .map_err(|error| invalid(format!("cannot read {}: {error}", path.display())))?;
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        let line = error
            .span()
            .map(|span| text[..span.start].lines().count().max(1))
            .unwrap_or(1);
        invalid(format!(
            "{}:{line} is not valid TOML: {}",
            path.display(),
            error.message().trim()
        ))
    })?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        let is_setting = described
            .get_arguments()
            .any(|arg| arg.get_id() == key.as_str() && arg.get_env().is_some() && key != CONFIG);
        if !is_setting {
            return Err(invalid(format!(
                "unknown setting `{key}` in {}",
                path.display()
            )));
        }
        let strings = match value {
            toml::Value::Array(items) => items.iter().map(scalar).collect(),
            other => scalar(&other).map(|value| vec![value]),
        }
        .ok_or_else(|| {
            invalid(format!(
                "invalid `{key}` from {}: expected a string, a number, a boolean or a list of them",
                path.display()
            ))
        })?;
        values.insert(key, strings);
    }
    Ok(ConfigFile {
        path: path.to_owned(),
        values,
    })
}

/// Reads at most [`MAX_FILE_BYTES`] of text.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other("it is over 1 MiB"));
    }
    Ok(text)
}

/// A TOML scalar as the text a flag would carry.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(number) => Some(number.to_string()),
        toml::Value::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// An environment value cut at the setting's delimiter, if it has one.
fn split(arg: &Arg, value: &str) -> Vec<String> {
    match arg.get_value_delimiter() {
        Some(delimiter) => value.split(delimiter).map(str::to_owned).collect(),
        None => vec![value.to_owned()],
    }
}

/// Runs `values` through the setting's own parser.
fn check(arg: &Arg, values: &[String]) -> Result<(), String> {
    let alone = Command::new("ferryd")
        .no_binary_name(true)
        .arg(arg.clone().env(None).default_values(values.to_vec()));
    match alone.try_get_matches_from(Vec::<OsString>::new()) {
        Ok(_) => Ok(()),
        Err(error) => Err(reason(&error)),
    }
}

/// What a parse error says, in one line.
fn reason(error: &clap::Error) -> String {
    if let Some(cause) = std::error::Error::source(error) {
        return cause.to_string();
    }
    first_line(error)
}

/// The first line of a clap error, without its `error: ` prefix.
fn first_line(error: &clap::Error) -> String {
    let rendered = error.to_string();
    let line = rendered.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// A refusal of the command line: help and usage mistakes as clap shows
/// them (help with each setting's variable), a bad value as one line.
fn refusal(error: clap::Error, described: &Command, args: &[OsString]) -> LoadError {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let help = described.clone().try_get_matches_from(args).err();
            LoadError::Usage(help.unwrap_or(error))
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            LoadError::Invalid(format!("{} (from the command line)", first_line(&error)))
        }
        _ => LoadError::Usage(error),
    }
}

/// Whether `message` names `variable` as a whole word.
fn names_variable(message: &str, variable: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    message.match_indices(variable).any(|(at, _)| {
        let before = message[..at].chars().next_back();
        let after = message[at + variable.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests;
