//! What a script's TypeScript may reach: the network (`fetch`), files
//! (`fetch` of `file:` URLs), environment variables (`Tandem.env`) and
//! Python modules (`.py` and `python:` imports, `python.import`).
//!
//! Everything is open by default, as for a server's own trusted code.
//! [`Permissions::deny_all`] switches to allow-lists, which the `--allow-*`
//! flags and `[permissions]` in tandem.toml fill. Network, file and
//! environment checks are Deno's own (`deno_permissions`, which Deno's
//! fetch already consults); the Python allow-list is ours.
//!
//! These govern TypeScript only. Python code runs with the process's
//! rights: a module TypeScript may import can open files or sockets itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use deno_permissions::{PermissionsContainer, PermissionsOptions, RuntimePermissionDescriptorParser};

/// What one kind of access allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anything of this kind.
    All,
    /// Only these: hosts (`api.example.com`, `127.0.0.1:8080`), paths,
    /// variable names, or Python modules and files. Empty: nothing.
    Only(Vec<String>),
}

impl Access {
    fn allows_all(&self) -> bool {
        *self == Access::All
    }

    /// As Deno's options hold it: `Some(empty)` is everything, `None` nothing.
    fn as_deno_list(&self) -> Option<Vec<String>> {
        match self {
            Access::All => Some(Vec::new()),
            Access::Only(list) if list.is_empty() => None,
            Access::Only(list) => Some(list.clone()),
        }
    }
}

/// What TypeScript code may reach; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    pub net: Access,
    pub read: Access,
    pub env: Access,
    /// Python modules (`numpy` allows `numpy` and `numpy.linalg`) and
    /// `.py` files or folders outside the project root.
    pub python: Access,
    /// The folder whose `.py` files may always be imported; `Runtime::new`
    /// puts its module root here when this is `None`.
    pub project_root: Option<PathBuf>,
}

impl Default for Permissions {
    fn default() -> Self {
        Self::allow_all()
    }
}

/// Why an access was refused, naming the flag that would allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(String);

/// A Python module an import names.
pub(crate) enum PythonImport<'a> {
    /// `python:sklearn.linear_model` or `python.import("sklearn.linear_model")`.
    Module(&'a str),
    /// `./model.py`, resolved.
    File(&'a Path),
}

impl Permissions {
    /// Everything allowed (the default).
    pub fn allow_all() -> Self {
        Permissions { net: Access::All, read: Access::All, env: Access::All, python: Access::All, project_root: None }
    }

    /// Nothing allowed but `.py` files in the project root; widen with the fields.
    pub fn deny_all() -> Self {
        let none = || Access::Only(Vec::new());
        Permissions { net: none(), read: none(), env: none(), python: none(), project_root: None }
    }

    pub fn is_allow_all(&self) -> bool {
        [&self.net, &self.read, &self.env, &self.python].iter().all(|a| a.allows_all())
    }

    /// The container Deno's extensions and our ops check, relative paths
    /// resolved against the current directory. Fails on a list entry that
    /// is not a host, path or variable name.
    pub(crate) fn container(&self) -> Result<PermissionsContainer, Denied> {
        let parser = Arc::new(RuntimePermissionDescriptorParser::new(sys_traits::impls::RealSys));
        if self.net.allows_all() && self.read.allows_all() && self.env.allows_all() {
            return Ok(PermissionsContainer::allow_all(parser));
        }
        let options = PermissionsOptions {
            allow_net: self.net.as_deno_list(),
            allow_read: self.read.as_deno_list(),
            allow_env: self.env.as_deno_list(),
            prompt: false,
            ..Default::default()
        };
        let permissions = deno_permissions::Permissions::from_options(parser.as_ref(), &options)
            .map_err(|e| Denied(format!("invalid permission list: {e}")))?;
        Ok(PermissionsContainer::new(parser, permissions))
    }

    /// Whether TypeScript may import `what`.
    pub(crate) fn check_python(&self, what: PythonImport<'_>) -> Result<(), Denied> {
        let Access::Only(list) = &self.python else { return Ok(()) };
        let root = self.project_root.as_deref().unwrap_or(Path::new("."));
        match what {
            PythonImport::Module(name) => {
                let allowed = list.iter().filter(|e| !is_path_entry(e)).any(|entry| {
                    name == entry || name.strip_prefix(entry.as_str()).is_some_and(|rest| rest.starts_with('.'))
                });
                if allowed {
                    return Ok(());
                }
                let top = name.split('.').next().unwrap_or(name);
                Err(Denied(format!(
                    "Requires permission to import the Python module '{name}', run again with --allow-python={top} \
                     (or add \"{top}\" to python in tandem.toml's [permissions])"
                )))
            }
            PythonImport::File(path) => {
                // Symbolic links are followed on both sides, so a link in
                // the project root cannot lead outside it unnoticed.
                let path = real(path);
                let under = |base: &Path| path.starts_with(real(base));
                if under(root) || list.iter().filter(|e| is_path_entry(e)).any(|e| under(Path::new(e))) {
                    return Ok(());
                }
                Err(Denied(format!(
                    "Requires permission to import the Python file '{}', which is outside the project root {}; \
                     run again with --allow-python={} (or add it to python in tandem.toml's [permissions])",
                    path.display(),
                    root.display(),
                    path.display()
                )))
            }
        }
    }
}

/// An allow-list entry that names a file or folder rather than a module.
fn is_path_entry(entry: &str) -> bool {
    entry.contains('/') || entry.ends_with(".py") || entry == "." || entry == ".."
}

/// `path` made absolute, with links followed where it exists and `.` and
/// `..` taken out as text where it does not.
fn real(path: &Path) -> PathBuf {
    if let Ok(found) = std::fs::canonicalize(path) {
        return found;
    }
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(python: &[&str]) -> Permissions {
        let mut p = Permissions::deny_all();
        p.python = Access::Only(python.iter().map(|s| s.to_string()).collect());
        p.project_root = Some(PathBuf::from("/app"));
        p
    }

    #[test]
    fn a_module_entry_allows_the_module_and_its_submodules_only() {
        let p = only(&["sklearn"]);
        assert!(p.check_python(PythonImport::Module("sklearn")).is_ok());
        assert!(p.check_python(PythonImport::Module("sklearn.linear_model")).is_ok());
        let err = p.check_python(PythonImport::Module("sklearnx")).unwrap_err().to_string();
        assert!(err.contains("'sklearnx'") && err.contains("--allow-python=sklearnx"), "{err}");
        let err = p.check_python(PythonImport::Module("os.path")).unwrap_err().to_string();
        assert!(err.contains("--allow-python=os"), "{err}");
    }

    #[test]
    fn files_in_the_project_root_are_allowed_and_others_need_an_entry() {
        let p = only(&[]);
        assert!(p.check_python(PythonImport::File(Path::new("/app/lib/model.py"))).is_ok());
        let err = p.check_python(PythonImport::File(Path::new("/shared/util.py"))).unwrap_err().to_string();
        assert!(err.contains("outside the project root /app") && err.contains("--allow-python=/shared/util.py"), "{err}");
        let p = only(&["/shared/"]);
        assert!(p.check_python(PythonImport::File(Path::new("/shared/util.py"))).is_ok());
        assert!(p.check_python(PythonImport::File(Path::new("/sharedx/util.py"))).is_err());
        // `..` in an entry is resolved, not matched as text.
        let p = only(&["/app/../shared"]);
        assert!(p.check_python(PythonImport::File(Path::new("/shared/util.py"))).is_ok());
    }

    #[test]
    fn all_allows_anything_and_the_default_is_all() {
        let p = Permissions::default();
        assert!(p.is_allow_all());
        assert!(p.check_python(PythonImport::Module("os")).is_ok());
        assert!(!Permissions::deny_all().is_allow_all());
    }

    #[test]
    fn deno_checks_follow_the_lists() {
        let mut p = Permissions::deny_all();
        p.env = Access::Only(vec!["HOME".into()]);
        p.net = Access::Only(vec!["127.0.0.1:8080".into()]);
        let mut container = p.container().unwrap();
        assert!(container.check_env("HOME").is_ok());
        let err = container.check_env("SECRET").unwrap_err().to_string();
        assert!(err.contains("--allow-env"), "{err}");
        assert!(container.check_net(&("127.0.0.1", Some(8080)), "fetch()").is_ok());
        let err = container.check_net(&("example.com", Some(443)), "fetch()").unwrap_err().to_string();
        assert!(err.contains("--allow-net"), "{err}");
    }
}
