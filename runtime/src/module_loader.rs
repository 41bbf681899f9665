//! Resolves and loads every module a Tandem program imports:
//!
//! | specifier                 | module                                      |
//! |---------------------------|---------------------------------------------|
//! | `./x.ts`, `/abs/x.mts`…   | TypeScript, transpiled with a source map    |
//! | `./x.js`, `./x.mjs`       | JavaScript as is                            |
//! | `./x.json`                | a JSON module (default export)              |
//! | `./model.py`              | the Python file, executed once per process  |
//! | `python:sklearn.cluster`  | an installed Python module or package       |
//! | `tandem:python`           | the runtime's Python helpers (`kwargs`, …)  |
//! | `tandem:http`             | serve(), Router, middleware (`runtime/ts/`) |
//!
//! A Python import becomes a small generated ES module whose named exports
//! are the module's public attributes and whose default export is the
//! module itself.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use deno_ast::MediaType;
use deno_core::error::ModuleLoaderError;
use deno_core::{
    resolve_import, ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader,
    ModuleSource, ModuleSourceCode, ModuleSpecifier, ModuleType, RequestedModuleType,
    ResolutionKind,
};
use deno_error::JsErrorBox;
use pyo3::prelude::*;

use crate::permissions::{Permissions, PythonImport};
use crate::python;
use crate::transpile;

/// Source of `tandem:python`.
const TANDEM_PYTHON_MODULE: &str = r#"const { python } = globalThis[Symbol.for("tandem.python")];
export const PythonError = python.PythonError;
export const kwargs = python.kwargs;
export const ndarray = python.ndarray;
export const withTimeout = python.withTimeout;
export const withSignal = python.withSignal;
export const isPyObject = python.isPyObject;
export const liveHandles = python.liveHandles;
const pyImport = python.import;
export { pyImport as import };
export default python;
"#;

/// `tandem:http` (router, middleware, serve; runtime/ts/http.ts), as the
/// JavaScript and source map build.rs transpiled it to.
const TANDEM_HTTP_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/tandem_http.js"));
const TANDEM_HTTP_SOURCE_MAP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tandem_http.js.map"));

pub(crate) struct TandemModuleLoader {
    source_maps: RefCell<HashMap<String, Vec<u8>>>,
    /// Which Python modules and files may be imported.
    permissions: Rc<Permissions>,
}

fn error(message: String) -> ModuleLoaderError {
    JsErrorBox::generic(message)
}

fn referrer_text(referrer: Option<&ModuleLoadReferrer>) -> String {
    match referrer {
        Some(r) => format!(
            " imported from {}:{}:{}",
            display_specifier(r.specifier.as_str()),
            r.line_number,
            r.column_number
        ),
        None => String::new(),
    }
}

/// `file:///a/b.ts` → `/a/b.ts`, for messages.
fn display_specifier(specifier: &str) -> String {
    ModuleSpecifier::parse(specifier)
        .ok()
        .filter(|s| s.scheme() == "file")
        .and_then(|s| s.to_file_path().ok())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| specifier.to_string())
}

impl ModuleLoader for TandemModuleLoader {
    fn resolve(
        &self,
        specifier: &str,
        referrer: &str,
        _kind: ResolutionKind,
    ) -> Result<ModuleSpecifier, ModuleLoaderError> {
        if let Some(name) = specifier.strip_prefix("python:") {
            if name.is_empty() || !name.split('.').all(is_python_identifier) {
                return Err(error(format!(
                    "invalid Python module name {name:?} in '{specifier}': expected a dotted name such as 'python:sklearn.linear_model'"
                )));
            }
            return ModuleSpecifier::parse(specifier).map_err(JsErrorBox::from_err);
        }
        if specifier.starts_with("tandem:") {
            return ModuleSpecifier::parse(specifier).map_err(JsErrorBox::from_err);
        }
        let is_path = specifier.starts_with("./")
            || specifier.starts_with("../")
            || specifier.starts_with('/')
            || specifier.starts_with("file:");
        if !is_path {
            return Err(error(format!(
                "cannot resolve '{specifier}' from {}: bare module names are not supported; \
                 write './{specifier}' for a file next to it, or 'python:{specifier}' for an installed Python package",
                display_specifier(referrer)
            )));
        }
        resolve_import(specifier, referrer).map_err(JsErrorBox::from_err)
    }

    fn load(
        &self,
        specifier: &ModuleSpecifier,
        referrer: Option<&ModuleLoadReferrer>,
        options: ModuleLoadOptions,
    ) -> ModuleLoadResponse {
        ModuleLoadResponse::Sync(self.load_sync(specifier, referrer, &options.requested_module_type))
    }

    fn get_source_map(&self, file_name: &str) -> Option<Cow<'_, [u8]>> {
        self.source_maps.borrow().get(file_name).map(|m| Cow::Owned(m.clone()))
    }
}

impl TandemModuleLoader {
    pub(crate) fn new(permissions: Rc<Permissions>) -> Self {
        TandemModuleLoader { source_maps: RefCell::default(), permissions }
    }

    /// Refuses a Python import the permissions do not allow.
    fn check_python(
        &self,
        specifier: &ModuleSpecifier,
        what: PythonImport<'_>,
        referrer: Option<&ModuleLoadReferrer>,
    ) -> Result<(), ModuleLoaderError> {
        self.permissions.check_python(what).map_err(|denied| {
            error(format!("'{}'{}: {denied}", display_specifier(specifier.as_str()), referrer_text(referrer)))
        })
    }

    fn load_sync(
        &self,
        specifier: &ModuleSpecifier,
        referrer: Option<&ModuleLoadReferrer>,
        requested: &RequestedModuleType,
    ) -> Result<ModuleSource, ModuleLoaderError> {
        match specifier.scheme() {
            "file" => self.load_file(specifier, referrer, requested),
            "python" => {
                let name = &specifier.as_str()["python:".len()..];
                self.check_python(specifier, PythonImport::Module(name), referrer)?;
                python_module(specifier, name)
            }
            "tandem" => match specifier.path() {
                "python" => Ok(js_module(specifier, TANDEM_PYTHON_MODULE.to_string())),
                "http" => {
                    self.source_maps
                        .borrow_mut()
                        .insert(specifier.to_string(), TANDEM_HTTP_SOURCE_MAP.to_vec());
                    Ok(js_module(specifier, TANDEM_HTTP_JS.to_string()))
                }
                other => Err(error(format!(
                    "unknown runtime module 'tandem:{other}'{}; available: tandem:python, tandem:http",
                    referrer_text(referrer)
                ))),
            },
            scheme => Err(error(format!(
                "cannot load '{specifier}'{}: the '{scheme}:' scheme is not supported",
                referrer_text(referrer)
            ))),
        }
    }

    fn load_file(
        &self,
        specifier: &ModuleSpecifier,
        referrer: Option<&ModuleLoadReferrer>,
        requested: &RequestedModuleType,
    ) -> Result<ModuleSource, ModuleLoaderError> {
        let path = specifier
            .to_file_path()
            .map_err(|_| error(format!("'{specifier}' is not a valid file path")))?;
        if !path.is_file() {
            return Err(error(format!(
                "cannot find module '{}'{}",
                path.display(),
                referrer_text(referrer)
            )));
        }
        if path.extension().is_some_and(|e| e == "py") {
            self.check_python(specifier, PythonImport::File(&path), referrer)?;
            return python_module(specifier, &path.to_string_lossy());
        }
        let media_type = MediaType::from_path(&path);
        let code = std::fs::read_to_string(&path)
            .map_err(|e| error(format!("cannot read '{}': {e}", path.display())))?;
        match media_type {
            MediaType::Json => Ok(ModuleSource::new(
                ModuleType::Json,
                ModuleSourceCode::String(code.into()),
                specifier,
                None,
            )),
            MediaType::JavaScript | MediaType::Mjs if *requested != RequestedModuleType::Json => {
                Ok(js_module(specifier, code))
            }
            m if transpile::needs_transpile(m) => {
                let out = transpile::transpile(specifier, m, code).map_err(error)?;
                if let Some(map) = out.source_map {
                    self.source_maps.borrow_mut().insert(specifier.to_string(), map);
                }
                Ok(js_module(specifier, out.code))
            }
            _ => Err(error(format!(
                "cannot import '{}'{}: unsupported file type (expected .ts, .mts, .tsx, .js, .mjs, .json or .py)",
                path.display(),
                referrer_text(referrer)
            ))),
        }
    }
}

fn js_module(specifier: &ModuleSpecifier, code: String) -> ModuleSource {
    ModuleSource::new(
        ModuleType::JavaScript,
        ModuleSourceCode::String(code.into()),
        specifier,
        None,
    )
}

fn is_python_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Names usable as `export { x as NAME }`: any IdentifierName, `default` excluded.
fn is_js_export_name(s: &str) -> bool {
    let mut chars = s.chars();
    s != "default"
        && matches!(chars.next(), Some(c) if c == '_' || c == '$' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c == '$' || c.is_alphanumeric())
}

/// Generates the ES module that stands for a Python module. The Python
/// module is imported here (running it, once per process) so its export
/// names are known; the generated code fetches the values at evaluation.
fn python_module(specifier: &ModuleSpecifier, what: &str) -> Result<ModuleSource, ModuleLoaderError> {
    let names = Python::attach(|py| -> PyResult<Vec<String>> {
        let module = python::import_specifier(py, specifier.as_str())?;
        Ok(python::module_exports(&module)?.into_iter().map(|(n, _)| n).collect())
    })
    .map_err(|e| error(python_import_error(what, &e)))?;
    let mut code = format!(
        "const __py = globalThis[Symbol.for(\"tandem.python\")].loadModule({});\n\
         export default __py.module;\n",
        serde_json::to_string(specifier.as_str()).unwrap_or_default()
    );
    for (i, name) in names.iter().enumerate() {
        if is_js_export_name(name) {
            code.push_str(&format!("const __e{i} = __py.values[{i}];\nexport {{ __e{i} as {name} }};\n"));
        }
    }
    Ok(js_module(specifier, code))
}

/// "cannot import Python module X: <traceback>" with Python's own
/// file/line information (SyntaxError carries both).
fn python_import_error(what: &str, err: &PyErr) -> String {
    Python::attach(|py| {
        let detail = py
            .import("traceback")
            .and_then(|tb| tb.call_method1("format_exception_only", (err.value(py),)))
            .and_then(|lines| lines.extract::<Vec<String>>())
            .map(|lines| lines.concat())
            .unwrap_or_else(|_| err.to_string());
        let hint = if err.is_instance_of::<pyo3::exceptions::PyModuleNotFoundError>(py) {
            "\nhint: install the package into the active Python environment (pip install ...) or check the module name"
        } else {
            ""
        };
        format!("cannot import Python module '{what}':\n{}{hint}", detail.trim_end())
    })
}

/// Resolves a path given on the command line against the current directory.
pub(crate) fn main_specifier(path: &Path) -> Result<ModuleSpecifier, ModuleLoaderError> {
    let cwd = std::env::current_dir().map_err(|e| error(format!("cannot read the current directory: {e}")))?;
    deno_core::resolve_path(&path.to_string_lossy(), &cwd).map_err(JsErrorBox::from_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_exclude_default_and_non_identifiers() {
        assert!(is_js_export_name("predict"));
        assert!(is_js_export_name("class"));
        assert!(!is_js_export_name("default"));
        assert!(!is_js_export_name("2fast"));
    }

    #[test]
    fn bare_specifiers_get_a_hint() {
        let loader = TandemModuleLoader::new(Rc::new(Permissions::allow_all()));
        let err = loader
            .resolve("numpy", "file:///app/main.ts", ResolutionKind::Import)
            .unwrap_err()
            .to_string();
        assert!(err.contains("python:numpy"), "{err}");
    }

    /// Each exported name of a TypeScript source (top level of `http.ts`,
    /// inside `declare module` in the .d.ts), with, for an interface, its
    /// members' names.
    fn exports(source: &str, indent: &str) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut found = std::collections::BTreeMap::new();
        let mut lines = source.lines();
        while let Some(line) = lines.next() {
            let Some(rest) = line.strip_prefix(indent).and_then(|l| l.strip_prefix("export ")) else { continue };
            let rest = rest.strip_prefix("declare ").unwrap_or(rest);
            let Some((kind, rest)) = rest.split_once(' ') else { continue };
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let mut members = Vec::new();
            if kind == "interface" {
                let member_indent = format!("{indent}  ");
                for line in lines.by_ref().take_while(|l| *l != format!("{indent}}}")) {
                    let Some(member) = line.strip_prefix(&member_indent) else { continue };
                    let member: String = member.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !member.is_empty() {
                        members.push(member);
                    }
                }
            }
            found.insert(format!("{kind} {name}"), members);
        }
        found
    }

    #[test]
    fn http_declarations_match_the_module() {
        let declarations = include_str!("../ts/http.d.ts");
        let module = exports(include_str!("../ts/http.ts"), "");
        assert!(module.len() > 20, "found only {module:?} in http.ts");
        assert_eq!(
            exports(declarations, "  "),
            module,
            "runtime/ts/http.d.ts and runtime/ts/http.ts export different names or interface members: update the .d.ts"
        );
    }
}
