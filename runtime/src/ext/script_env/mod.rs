//! The `tandem_script_env` extension: `console`, and the `Tandem` global with
//! script arguments, environment variables, `exit`, and the functions an
//! embedding Rust program registers (`Tandem.host.call`).

use std::collections::HashMap;
use std::rc::Rc;

use deno_core::{ascii_str_include, op2, ExtensionFileSource, OpState};
use deno_error::JsErrorBox;
use deno_permissions::PermissionsContainer;

/// A Rust function callable from TypeScript as `Tandem.host.call(name, ...args)`.
pub type HostFunction = dyn Fn(Vec<serde_json::Value>) -> Result<serde_json::Value, String>;

/// What the runtime extension reads from the op state.
pub(crate) struct RuntimeInfo {
    pub(crate) args: Vec<String>,
    pub(crate) main_module: Option<String>,
    pub(crate) host_functions: HashMap<String, Rc<HostFunction>>,
}

deno_core::extension!(
    tandem_script_env,
    deps = [tandem_web, tandem_py_proxy, tandem_http, tandem_websocket],
    ops = [
        op_runtime_args,
        op_runtime_main_module,
        op_runtime_exit,
        op_env_get,
        op_env_set,
        op_env_delete,
        op_env_list,
        op_host_call,
    ],
    esm_entry_point = "ext:tandem_script_env/02_tandem.js",
    options = { info: RuntimeInfo },
    state = |state, options| {
        state.put(options.info);
    },
);

static ESM: [ExtensionFileSource; 2] = [
    ExtensionFileSource::new("ext:tandem_script_env/01_console.js", ascii_str_include!("01_console.js")),
    ExtensionFileSource::new("ext:tandem_script_env/02_tandem.js", ascii_str_include!("02_tandem.js")),
];

pub(crate) fn extension(info: RuntimeInfo) -> deno_core::Extension {
    super::with_embedded_esm(tandem_script_env::init(info), &ESM)
}

#[op2]
#[serde]
fn op_runtime_args(state: &OpState) -> Vec<String> {
    state.borrow::<RuntimeInfo>().args.clone()
}

#[op2]
#[string]
fn op_runtime_main_module(state: &OpState) -> Option<String> {
    state.borrow::<RuntimeInfo>().main_module.clone()
}

#[op2(fast)]
fn op_runtime_exit(code: i32) {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(code);
}

#[op2]
#[string]
fn op_env_get(state: &OpState, #[string] name: &str) -> Result<Option<String>, JsErrorBox> {
    check_env(state, name)?;
    Ok(std::env::var(name).ok())
}

#[op2(fast)]
fn op_env_set(state: &OpState, #[string] name: &str, #[string] value: &str) -> Result<(), JsErrorBox> {
    check_env(state, name)?;
    if value.contains('\0') {
        return Err(JsErrorBox::type_error("environment variable values cannot contain NUL"));
    }
    // SAFETY (of the std call's contract): JS runs on one thread per
    // isolate and Python reads the environment through its own copy
    // (os.environ), so no other thread of ours is reading it concurrently.
    unsafe { std::env::set_var(name, value) };
    Ok(())
}

#[op2(fast)]
fn op_env_delete(state: &OpState, #[string] name: &str) -> Result<(), JsErrorBox> {
    check_env(state, name)?;
    // SAFETY: as in op_env_set.
    unsafe { std::env::remove_var(name) };
    Ok(())
}

#[op2]
#[serde]
fn op_env_list(state: &OpState) -> Result<HashMap<String, String>, JsErrorBox> {
    state.borrow::<PermissionsContainer>().check_env_all().map_err(JsErrorBox::from_err)?;
    Ok(std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect())
}

/// A well-formed name that `--allow-env` allows.
fn check_env(state: &OpState, name: &str) -> Result<(), JsErrorBox> {
    check_env_name(name)?;
    state.borrow::<PermissionsContainer>().check_env(name).map_err(JsErrorBox::from_err)
}

fn check_env_name(name: &str) -> Result<(), JsErrorBox> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(JsErrorBox::type_error(format!(
            "invalid environment variable name {name:?}: it must be non-empty without '=' or NUL"
        )));
    }
    Ok(())
}

#[op2]
#[serde]
fn op_host_call(
    state: &OpState,
    #[string] name: &str,
    #[serde] args: Vec<serde_json::Value>,
) -> Result<serde_json::Value, JsErrorBox> {
    let info = state.borrow::<RuntimeInfo>();
    let Some(function) = info.host_functions.get(name).cloned() else {
        let mut known: Vec<_> = info.host_functions.keys().cloned().collect();
        known.sort();
        return Err(JsErrorBox::type_error(format!(
            "no host function named {name:?} is registered (registered: {})",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        )));
    };
    function(args).map_err(|message| JsErrorBox::generic(format!("host function {name:?} failed: {message}")))
}
