//! The permission flags: `--deny-all` switches a script's TypeScript to
//! allow-lists, which `--allow-net`, `--allow-read`, `--allow-env` and
//! `--allow-python` fill (tandem::Permissions says what each governs).

use std::ffi::OsString;
use std::path::Path;

use anyhow::bail;
use clap::Args;
use tandem::{Access, Permissions};

#[derive(Args, Clone, Default)]
#[command(next_help_heading = "Permissions (open unless --deny-all or [permissions] in tandem.toml)")]
pub(crate) struct PermissionFlags {
    /// Allow TypeScript only what the --allow-* flags list (and .py files
    /// in the entry file's folder): no network, files, environment
    /// variables or Python packages otherwise.
    #[arg(long, env = "TANDEM_DENY_ALL")]
    deny_all: bool,
    /// With --deny-all: hosts fetch() may reach, e.g. api.example.com,127.0.0.1:8080 (alone: any).
    #[arg(long, env = "TANDEM_ALLOW_NET", num_args = 0..=1, require_equals = true, default_missing_value = "*", value_name = "HOSTS")]
    allow_net: Option<String>,
    /// With --deny-all: files and folders fetch("file:...") may read (alone: any).
    #[arg(long, env = "TANDEM_ALLOW_READ", num_args = 0..=1, require_equals = true, default_missing_value = "*", value_name = "PATHS")]
    allow_read: Option<String>,
    /// With --deny-all: environment variables Tandem.env may read and set (alone: any).
    #[arg(long, env = "TANDEM_ALLOW_ENV", num_args = 0..=1, require_equals = true, default_missing_value = "*", value_name = "NAMES")]
    allow_env: Option<String>,
    /// With --deny-all: Python modules (numpy allows numpy.linalg too) and
    /// .py files or folders outside the entry file's folder that
    /// TypeScript may import (alone: any).
    #[arg(long, env = "TANDEM_ALLOW_PYTHON", num_args = 0..=1, require_equals = true, default_missing_value = "*", value_name = "MODULES")]
    allow_python: Option<String>,
}

impl PermissionFlags {
    fn lists(&self) -> [(&'static str, &Option<String>); 4] {
        [("net", &self.allow_net), ("read", &self.allow_read), ("env", &self.allow_env), ("python", &self.allow_python)]
    }

    /// What the script's TypeScript may reach; `project_root` is the
    /// folder whose `.py` files it may always import.
    pub(crate) fn permissions(&self, project_root: &Path) -> anyhow::Result<Permissions> {
        if !self.deny_all {
            if let Some((name, _)) = self.lists().into_iter().find(|(_, list)| list.is_some()) {
                bail!(
                    "--allow-{name} only narrows what a script may reach under --deny-all, and without it everything \
                     is allowed: add --deny-all (or a [permissions] section to tandem.toml)"
                );
            }
            return Ok(Permissions::allow_all());
        }
        Ok(Permissions {
            net: access(&self.allow_net),
            read: access(&self.allow_read),
            env: access(&self.allow_env),
            python: access(&self.allow_python),
            project_root: Some(project_root.to_path_buf()),
        })
    }

    /// The same flags for a server process under the supervisor.
    pub(crate) fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if self.deny_all {
            args.push("--deny-all".into());
        }
        for (name, list) in self.lists() {
            if let Some(list) = list {
                args.push(format!("--allow-{name}={list}").into());
            }
        }
        args
    }
}

/// `*` allows everything; otherwise a comma-separated list.
fn access(list: &Option<String>) -> Access {
    match list.as_deref() {
        None => Access::Only(Vec::new()),
        Some("*") => Access::All,
        Some(list) => Access::Only(list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_need_deny_all_and_fill_it() {
        let open = PermissionFlags { allow_net: Some("example.com".into()), ..Default::default() };
        let err = open.permissions(Path::new("/app")).unwrap_err().to_string();
        assert!(err.contains("--allow-net only narrows") && err.contains("add --deny-all"), "{err}");
        assert!(PermissionFlags::default().permissions(Path::new("/app")).unwrap().is_allow_all());
        let closed = PermissionFlags {
            deny_all: true,
            allow_net: Some("example.com, 127.0.0.1:8080".into()),
            allow_env: Some("*".into()),
            ..Default::default()
        };
        let p = closed.permissions(Path::new("/app")).unwrap();
        assert_eq!(p.net, Access::Only(vec!["example.com".into(), "127.0.0.1:8080".into()]));
        assert_eq!(p.env, Access::All);
        assert_eq!(p.read, Access::Only(vec![]));
        let args: Vec<String> = closed.to_args().into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(args, ["--deny-all", "--allow-net=example.com, 127.0.0.1:8080", "--allow-env=*"]);
    }
}
