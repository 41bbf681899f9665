//! TypeScript → JavaScript with swc (through deno_ast): types stripped, no
//! type checking (like `deno run --no-check`), and a source map kept so
//! stack traces point at the .ts file.
//!
//! build.rs compiles this file too, to transpile `tandem:http` once at
//! build time: so it uses deno_ast's types only.

use deno_ast::{
    EmitOptions, MediaType, ParseParams, SourceMapOption, TranspileModuleOptions, TranspileOptions,
};
use deno_ast::ModuleSpecifier;

/// Transpiled code and its source map.
#[derive(Debug)]
pub(crate) struct Transpiled {
    pub(crate) code: String,
    pub(crate) source_map: Option<Vec<u8>>,
}

/// Whether files of this type need transpiling before the engine sees them.
pub(crate) fn needs_transpile(media_type: MediaType) -> bool {
    matches!(
        media_type,
        MediaType::TypeScript
            | MediaType::Mts
            | MediaType::Cts
            | MediaType::Tsx
            | MediaType::Jsx
    )
}

/// Transpiles `source`; a syntax error's message names the file, line and
/// column (deno_ast's diagnostics carry them).
pub(crate) fn transpile(
    specifier: &ModuleSpecifier,
    media_type: MediaType,
    source: String,
) -> Result<Transpiled, String> {
    let parsed = deno_ast::parse_module(ParseParams {
        specifier: specifier.clone(),
        text: source.into(),
        media_type,
        capture_tokens: false,
        scope_analysis: false,
        maybe_syntax: None,
    })
    .map_err(|e| e.to_string())?;
    let emitted = parsed
        .transpile(
            &TranspileOptions {
                // An import whose bindings are unused (or used only as types)
                // still loads its module: a `.py` import runs Python, and a
                // missing file must be reported, not silently elided.
                imports_not_used_as_values: deno_ast::ImportsNotUsedAsValues::Preserve,
                decorators: deno_ast::DecoratorsTranspileOption::Ecma,
                ..Default::default()
            },
            &TranspileModuleOptions { module_kind: None },
            &EmitOptions {
                source_map: SourceMapOption::Separate,
                inline_sources: true,
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?
        .into_source();
    Ok(Transpiled {
        code: emitted.text,
        source_map: emitted.source_map.map(String::into_bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModuleSpecifier {
        ModuleSpecifier::parse("file:///app/main.ts").unwrap()
    }

    #[test]
    fn strips_types_and_keeps_a_source_map() {
        let out = transpile(&spec(), MediaType::TypeScript, "const x: number = 1;\nexport { x };".into())
            .unwrap();
        assert!(out.code.contains("const x = 1"), "{}", out.code);
        assert!(out.source_map.is_some());
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = transpile(&spec(), MediaType::TypeScript, "let a = 1;\nlet = ;\n".into()).unwrap_err();
        assert!(err.contains("file:///app/main.ts:2"), "{err}");
    }
}
