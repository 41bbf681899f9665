//! `tandem.toml`, the optional config file beside the entry file: the same
//! settings as the flags, grouped by what they set.
//!
//! A flag wins over its environment variable, which wins over the file,
//! which wins over the default. The file is applied by giving each key's
//! environment variable its value when the environment does not set it,
//! so clap applies that one order to every setting.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// The file's name, looked for in the entry file's folder.
pub(crate) const FILE: &str = "tandem.toml";

/// What a key holds.
#[derive(Clone, Copy)]
enum Kind {
    /// A whole number (a port, a count, bytes).
    Count,
    /// A number of seconds.
    Seconds,
    /// Bytes: a whole number, or a string such as "512MiB" (see `--max-memory`).
    Size,
    Text,
    /// A permission: `true` (anything) or a list of strings.
    Access,
}

/// Every key: section, name, the environment variable it stands for (the
/// flag's), and what it holds. docs/http.md lists them with their flags.
const KEYS: &[(&str, &str, &str, Kind)] = &[
    ("server", "port", "TANDEM_PORT", Kind::Count),
    ("server", "host", "TANDEM_HOST", Kind::Text),
    ("server", "workers", "TANDEM_WORKERS", Kind::Count),
    ("server", "processes", "TANDEM_PROCESSES", Kind::Count),
    ("server", "metrics_path", "TANDEM_METRICS_PATH", Kind::Text),
    ("server", "health_path", "TANDEM_HEALTH_PATH", Kind::Text),
    ("server", "ready_path", "TANDEM_READY_PATH", Kind::Text),
    ("limits", "max_body_size", "TANDEM_MAX_BODY_SIZE", Kind::Count),
    ("limits", "header_timeout", "TANDEM_HEADER_TIMEOUT", Kind::Seconds),
    ("limits", "handler_timeout", "TANDEM_HANDLER_TIMEOUT", Kind::Seconds),
    ("limits", "shutdown_timeout", "TANDEM_SHUTDOWN_TIMEOUT", Kind::Seconds),
    ("limits", "max_connections", "TANDEM_MAX_CONNECTIONS", Kind::Count),
    ("limits", "python_call_timeout", "TANDEM_PYTHON_CALL_TIMEOUT", Kind::Seconds),
    ("limits", "max_requests", "TANDEM_MAX_REQUESTS", Kind::Count),
    ("limits", "max_requests_jitter", "TANDEM_MAX_REQUESTS_JITTER", Kind::Count),
    ("limits", "max_memory", "TANDEM_MAX_MEMORY", Kind::Size),
    ("wsgi", "threads", "TANDEM_WSGI_THREADS", Kind::Count),
    ("permissions", "net", "TANDEM_ALLOW_NET", Kind::Access),
    ("permissions", "read", "TANDEM_ALLOW_READ", Kind::Access),
    ("permissions", "env", "TANDEM_ALLOW_ENV", Kind::Access),
    ("permissions", "python", "TANDEM_ALLOW_PYTHON", Kind::Access),
];

/// A `[permissions]` section, even an empty one, switches to allow-lists.
const PERMISSIONS_SECTION: (&str, &str) = ("permissions", "TANDEM_DENY_ALL");

/// Where the config file of `entry` (a module path, or with `--wsgi` an
/// app spec such as `app.py:app` or `package.module:app`) would be.
pub(crate) fn path_for(entry: &Path) -> PathBuf {
    let text = entry.to_string_lossy();
    let file = Path::new(text.split(':').next().unwrap_or(&text));
    match std::path::absolute(file).ok().filter(|p| p.is_file()).and_then(|p| p.parent().map(Path::to_path_buf)) {
        Some(folder) => folder.join(FILE),
        None => PathBuf::from(FILE),
    }
}

/// Reads the config file at `path`, if there is one, and sets the
/// environment variables of its keys that the environment leaves unset.
/// Returns whether a file was read.
pub(crate) fn apply(path: &Path) -> anyhow::Result<bool> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    for (variable, value) in settings(&text).with_context(|| format!("in {}", path.display()))? {
        if std::env::var_os(variable).is_none() {
            // Called before any other thread starts, so nothing reads the
            // environment while it changes.
            std::env::set_var(variable, value);
        }
    }
    Ok(true)
}

/// The environment variables and values the file's keys stand for.
fn settings(text: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let table: toml::Table = text.parse().context("this is not valid TOML")?;
    let mut out = Vec::new();
    for (section, entries) in &table {
        let Some(entries) = entries.as_table() else {
            bail!("`{section}` must be a section ([{section}]); sections: {}", sections());
        };
        if section == PERMISSIONS_SECTION.0 {
            out.push((PERMISSIONS_SECTION.1, "true".to_string()));
        }
        for (name, value) in entries {
            let Some(&(_, _, variable, kind)) = KEYS.iter().find(|(s, n, _, _)| s == section && n == name) else {
                bail!("unknown key `{section}.{name}`; known keys: {}", known_keys());
            };
            if let Some(text) = text_of(section, name, value, kind)? {
                out.push((variable, text));
            }
        }
    }
    Ok(out)
}

/// The environment variable's value for `value`; `None` leaves it unset
/// (a permission set to `false`).
fn text_of(section: &str, name: &str, value: &toml::Value, kind: Kind) -> anyhow::Result<Option<String>> {
    let text: anyhow::Result<String> = match (kind, value) {
        (Kind::Access, _) => return access_text(section, name, value),
        (Kind::Count, toml::Value::Integer(n)) if *n >= 0 => Ok(n.to_string()),
        (Kind::Seconds, toml::Value::Integer(n)) if *n > 0 => Ok(n.to_string()),
        (Kind::Seconds, toml::Value::Float(x)) if *x > 0.0 && x.is_finite() => Ok(x.to_string()),
        (Kind::Text, toml::Value::String(s)) => Ok(s.clone()),
        (Kind::Size, toml::Value::Integer(n)) if *n > 0 => Ok(n.to_string()),
        (Kind::Size, toml::Value::String(s)) => match crate::size::parse(s) {
            Ok(_) => Ok(s.clone()),
            Err(e) => bail!("`{section}.{name}`: {e}"),
        },
        (Kind::Size, _) => bail!("`{section}.{name}` must be a number of bytes or a string such as \"512MiB\", not {value}"),
        (Kind::Count, _) => bail!("`{section}.{name}` must be a whole number of at least 0, not {value}"),
        (Kind::Seconds, _) => bail!("`{section}.{name}` must be a positive number of seconds, not {value}"),
        (Kind::Text, _) => bail!("`{section}.{name}` must be a string, not {value}"),
    };
    Ok(Some(text?))
}

/// `true` is `*` (anything), `false` nothing, a list its entries joined by commas.
fn access_text(section: &str, name: &str, value: &toml::Value) -> anyhow::Result<Option<String>> {
    let wrong = || anyhow::anyhow!("`{section}.{name}` must be true, false or a list of strings, not {value}");
    match value {
        toml::Value::Boolean(true) => Ok(Some("*".into())),
        toml::Value::Boolean(false) => Ok(None),
        toml::Value::Array(items) => {
            let items: Vec<&str> = items.iter().map(|i| i.as_str().ok_or_else(wrong)).collect::<Result<_, _>>()?;
            if let Some(bad) = items.iter().find(|i| i.contains(',') || i.trim().is_empty() || **i == "*") {
                bail!("`{section}.{name}`: {bad:?} is not a host, path, name or module (use true to allow anything)");
            }
            // An empty list allows nothing, like `false`.
            Ok((!items.is_empty()).then(|| items.join(",")))
        }
        _ => Err(wrong()),
    }
}

fn known_keys() -> String {
    KEYS.iter().map(|(s, n, _, _)| format!("{s}.{n}")).collect::<Vec<_>>().join(", ")
}

fn sections() -> String {
    let mut names: Vec<&str> = KEYS.iter().map(|(s, _, _, _)| *s).collect();
    names.dedup();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_the_environment_variables_of_their_flags() {
        let text = "[server]\nworkers = 2\nhost = \"0.0.0.0\"\n[limits]\nhandler_timeout = 2.5\n[wsgi]\nthreads = 4\n";
        let got = settings(text).unwrap();
        assert!(got.contains(&("TANDEM_WORKERS", "2".into())), "{got:?}");
        assert!(got.contains(&("TANDEM_HOST", "0.0.0.0".into())), "{got:?}");
        assert!(got.contains(&("TANDEM_HANDLER_TIMEOUT", "2.5".into())), "{got:?}");
        assert!(got.contains(&("TANDEM_WSGI_THREADS", "4".into())), "{got:?}");
    }

    #[test]
    fn mistakes_name_the_key_and_what_it_takes() {
        let err = |text: &str| format!("{:#}", settings(text).unwrap_err());
        let typo = err("[limits]\nhandler_timout = 1\n");
        assert!(typo.contains("unknown key `limits.handler_timout`") && typo.contains("limits.handler_timeout"), "{typo}");
        let negative = err("[limits]\nhandler_timeout = -1\n");
        assert!(negative.contains("`limits.handler_timeout` must be a positive number of seconds, not -1"), "{negative}");
        let text = err("[server]\nworkers = \"two\"\n");
        assert!(text.contains("`server.workers` must be a whole number"), "{text}");
        let bare = err("workers = 2\n");
        assert!(bare.contains("`workers` must be a section"), "{bare}");
        assert!(err("[server\n").contains("not valid TOML"));
    }

    #[test]
    fn a_permissions_section_denies_all_and_fills_the_allow_lists() {
        let got = settings("[permissions]\nnet = [\"api.example.com\", \"127.0.0.1:8080\"]\nenv = true\nread = false\n").unwrap();
        assert!(got.contains(&("TANDEM_DENY_ALL", "true".into())), "{got:?}");
        assert!(got.contains(&("TANDEM_ALLOW_NET", "api.example.com,127.0.0.1:8080".into())), "{got:?}");
        assert!(got.contains(&("TANDEM_ALLOW_ENV", "*".into())), "{got:?}");
        assert!(!got.iter().any(|(v, _)| *v == "TANDEM_ALLOW_READ"), "{got:?}");
        assert_eq!(settings("[permissions]\n").unwrap(), vec![("TANDEM_DENY_ALL", "true".to_string())]);
        let err = |text: &str| format!("{:#}", settings(text).unwrap_err());
        assert!(err("[permissions]\nnet = \"x\"\n").contains("must be true, false or a list of strings"));
        assert!(err("[permissions]\npython = [\"a,b\"]\n").contains("is not a host, path, name or module"));
        assert!(err("[permissions]\nwrite = true\n").contains("unknown key `permissions.write`"));
    }
}
