//! Python modules reaching JS: `python.import("numpy")` and the exports of
//! a `.py` or `python:` ES-module import.

use deno_core::{op2, v8};

use super::with_python;
use crate::permissions::PythonImport;
use crate::python::bridge::{Bridge, PendingError, WrapKind};
use crate::python::convert::ToJs;
use crate::python::{import_package, import_specifier, module_exports};

/// `importlib.import_module(name)` for `python.import("numpy")`.
#[op2(reentrant)]
pub(super) fn op_py_import<'s>(scope: &mut v8::PinScope<'s, '_>, #[string] name: &str) -> v8::Local<'s, v8::Value> {
    let allowed = Bridge::from_isolate(scope).permissions.borrow().check_python(PythonImport::Module(name));
    with_python(scope, |py, scope, bridge| match allowed.map(|()| import_package(py, name)) {
        Err(denied) => bridge.fail(scope, PendingError::Denied(denied.to_string())),
        Ok(imported) => match imported {
        Ok(module) => {
            let module = module.into_any();
            ToJs::new(bridge)
                .wrap(scope, &module, WrapKind::Object)
                .unwrap_or_else(|e| bridge.fail(scope, PendingError::Conversion(e.describe(name))))
        }
            Err(e) => bridge.fail(scope, PendingError::Python(e)),
        },
    })
}

/// The module and exports behind a `.py` or `python:` import, as
/// `{ module, values }` for the synthetic ES module (whose export names
/// the module loader already knows, in the same order).
#[op2(reentrant)]
pub(super) fn op_py_load_module<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    #[string] specifier: &str,
) -> v8::Local<'s, v8::Value> {
    with_python(scope, |py, scope, bridge| {
        let loaded = import_specifier(py, specifier).and_then(|m| Ok((module_exports(&m)?, m)));
        let (exports, module) = match loaded {
            Ok(v) => v,
            Err(e) => return bridge.fail(scope, PendingError::Python(e)),
        };
        let mut to_js = ToJs::new(bridge);
        let module_js = match to_js.wrap(scope, module.as_any(), WrapKind::Object) {
            Ok(v) => v,
            Err(e) => return bridge.fail(scope, PendingError::Conversion(e.describe(specifier))),
        };
        let values = v8::Array::new(scope, exports.len() as i32);
        for (i, (name, value)) in exports.iter().enumerate() {
            match to_js.convert(scope, value) {
                Ok(v) => {
                    values.set_index(scope, i as u32, v);
                }
                Err(e) => {
                    let root = format!("export '{name}' of {specifier}");
                    return bridge.fail(scope, PendingError::Conversion(e.describe(&root)));
                }
            }
        }
        let out = v8::Object::new(scope);
        let key = v8::String::new(scope, "module").unwrap();
        out.set(scope, key.into(), module_js);
        let key = v8::String::new(scope, "values").unwrap();
        out.set(scope, key.into(), values.into());
        out.into()
    })
}
