//! TypeScript declarations for a Python module, from its type hints
//! (`tandem types`, `tandem check`). The work is Python's own `ast`, in
//! runtime/pylib/tandem/_types.py: reading the hints never imports the
//! module, so no model is loaded and no top-level code runs.

use std::path::Path;

use pyo3::prelude::*;

use crate::error::Error;

/// The extension TypeScript looks for beside `m.py` when a module imports
/// `"./m.py"` (TypeScript 5's `allowArbitraryExtensions`): `m.d.py.ts`.
pub const DECLARATION_SUFFIX: &str = ".d.py.ts";

/// The declarations of the Python module at `path`.
///
/// A file that cannot be read, or does not parse, is an `Error::Module`
/// naming the file and line.
pub fn declarations(path: &Path) -> Result<String, Error> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| Error::Module(format!("cannot read {}: {e}", path.display())))?;
    super::initialize()?;
    Python::attach(|py| {
        py.import("tandem._types")?
            .call_method1("declarations", (source, path.to_string_lossy().as_ref()))?
            .extract::<String>()
    })
    .map_err(|err| Error::Module(format!("cannot read the type hints of {}: {err}", path.display())))
}

/// Where the declarations of the Python module at `path` belong.
pub fn declaration_path(path: &Path) -> std::path::PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{stem}{DECLARATION_SUFFIX}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_sit_beside_the_module() {
        assert_eq!(declaration_path(Path::new("app/ml_service.py")), Path::new("app/ml_service.d.py.ts"));
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let dir = std::env::temp_dir().join(format!("tandem-decl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("broken.py");
        std::fs::write(&file, "def f(:\n    pass\n").unwrap();
        let message = declarations(&file).unwrap_err().to_string();
        assert!(message.contains("broken.py") && message.contains("line 1"), "{message}");
    }

    #[test]
    fn hints_become_typescript() {
        let dir = std::env::temp_dir().join(format!("tandem-decl-ok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.py");
        std::fs::write(&file, "def predict(text: str, k: int = 3) -> dict[str, float]:\n    return {}\n").unwrap();
        let text = declarations(&file).unwrap();
        assert!(
            text.contains("export declare function predict(text: string, k?: number): Record<string, number>;"),
            "{text}"
        );
    }
}
