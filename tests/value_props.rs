//! Property tests of the value bridge: arbitrary JSON-like values with the
//! awkward parts JSON leaves out (-0, NaN, ±Infinity, lone surrogates,
//! astral characters, BigInts past 2^53, typed arrays of every kind, deep
//! nesting) cross from TypeScript into Python and back through a real
//! runtime, and must come back as docs/values.md says, or as a TypeError;
//! never a crash. The comparison is tests/value_props/roundtrip.ts.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tandem::{Module, Runtime, RuntimeOptions};

/// A value, written out as JavaScript source by `source`.
#[derive(Debug, Clone)]
enum Value {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    BigInt(i128),
    /// UTF-16 code units: any of them, lone surrogates included.
    Str(Vec<u16>),
    Array(Vec<Value>),
    Object(Vec<(Vec<u16>, Value)>),
    /// A typed array (or ArrayBuffer, DataView) over these bytes.
    Typed(&'static str, Vec<u8>),
}

/// The typed-array constructors, with their element sizes.
const TYPED: &[(&str, usize)] = &[
    ("Int8Array", 1),
    ("Uint8Array", 1),
    ("Uint8ClampedArray", 1),
    ("Int16Array", 2),
    ("Uint16Array", 2),
    ("Int32Array", 4),
    ("Uint32Array", 4),
    ("Float32Array", 4),
    ("Float64Array", 8),
    ("BigInt64Array", 8),
    ("BigUint64Array", 8),
    ("ArrayBuffer", 1),
    ("DataView", 1),
];

fn string_literal(units: &[u16]) -> String {
    let mut out = String::from("\"");
    for &unit in units {
        match unit {
            0x20..=0x7e if unit != u16::from(b'"') && unit != u16::from(b'\\') => out.push(unit as u8 as char),
            _ => out.push_str(&format!("\\u{unit:04x}")),
        }
    }
    out.push('"');
    out
}

fn number_literal(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if n == 0.0 && n.is_sign_negative() {
        "-0".into()
    } else {
        // Rust's shortest round-trip form is valid JavaScript.
        format!("{n:?}")
    }
}

impl Value {
    fn source(&self) -> String {
        match self {
            Value::Undefined => "undefined".into(),
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => format!("({})", number_literal(*n)),
            Value::BigInt(n) => format!("({n}n)"),
            Value::Str(units) => string_literal(units),
            Value::Array(items) => format!("[{}]", items.iter().map(Value::source).collect::<Vec<_>>().join(", ")),
            Value::Object(entries) => {
                let fields: Vec<String> =
                    entries.iter().map(|(k, v)| format!("[{}]: {}", string_literal(k), v.source())).collect();
                format!("({{{}}})", fields.join(", "))
            }
            Value::Typed(kind, bytes) => {
                let buffer = format!("new Uint8Array([{}]).buffer", bytes.iter().map(u8::to_string).collect::<Vec<_>>().join(","));
                match *kind {
                    "ArrayBuffer" => format!("({buffer})"),
                    kind => format!("new {kind}({buffer})"),
                }
            }
        }
    }
}

fn char_units() -> impl Strategy<Value = Vec<u16>> {
    any::<char>().prop_map(|c| {
        let mut b = [0u16; 2];
        c.encode_utf16(&mut b).to_vec()
    })
}

/// String contents: mostly characters (astral ones as surrogate pairs),
/// some lone surrogates.
fn units() -> impl Strategy<Value = Vec<u16>> {
    let unit = prop_oneof![
        4 => char_units(),
        1 => (0xd800u16..=0xdfff).prop_map(|u| vec![u]),
        1 => (0x20u16..0x7f).prop_map(|u| vec![u]),
    ];
    prop::collection::vec(unit, 0..12).prop_map(|parts| parts.concat())
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (-9_007_199_254_740_993i64..=9_007_199_254_740_993).prop_map(|n| n as f64),
        any::<i32>().prop_map(f64::from),
    ]
}

fn typed() -> impl Strategy<Value = Value> {
    (0..TYPED.len(), 0usize..6).prop_flat_map(|(index, count)| {
        let (kind, size) = TYPED[index];
        prop::collection::vec(any::<u8>(), count * size).prop_map(move |bytes| Value::Typed(kind, bytes))
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Undefined),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        any::<i128>().prop_map(Value::BigInt),
        units().prop_map(Value::Str),
        typed(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            // "__proto__" as a key would set the prototype, not a field.
            prop::collection::vec((units().prop_filter("not __proto__", |k| k != &"__proto__".encode_utf16().collect::<Vec<_>>()), inner), 0..6)
                .prop_map(Value::Object),
        ]
    })
}

fn runtime() -> (Runtime, Module) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/value_props");
    let mut runtime = Runtime::new(RuntimeOptions { module_root: Some(root), ..Default::default() }).expect("runtime");
    let module = runtime.load_module("roundtrip.ts").expect("load roundtrip.ts");
    (runtime, module)
}

fn round_trip(runtime: &mut Runtime, module: &Module, source: &str) -> String {
    runtime.call_function(module, "check", &source).expect("check() itself must not fail")
}

#[test]
fn arbitrary_values_come_back_as_documented() {
    let (runtime, module) = runtime();
    // `run` takes a `Fn` closure; the runtime is used by one case at a time.
    let runtime = std::cell::RefCell::new(runtime);
    let mut runner = TestRunner::new(Config { cases: 2000, failure_persistence: None, ..Config::default() });
    let outcome = runner.run(&value(), |value| {
        let source = value.source();
        let result = round_trip(&mut runtime.borrow_mut(), &module, &source);
        prop_assert_eq!(&result, "ok", "for {}", source);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

#[test]
fn nesting_crosses_up_to_the_limit_and_is_refused_past_it() {
    let (mut runtime, module) = runtime();
    let mut deep = |depth: usize, kind: &str| -> String {
        runtime.call_function(&module, "checkDeep", &(depth, kind)).expect("checkDeep() itself must not fail")
    };
    for depth in [1, 100, 512] {
        assert_eq!(deep(depth, "array"), "ok", "{depth} arrays deep");
        assert_eq!(deep(depth, "object"), "ok", "{depth} objects deep");
    }
    for depth in [513, 600, 5000] {
        for kind in ["array", "object"] {
            let result = deep(depth, kind);
            assert!(result.starts_with("TypeError: ") && result.contains("nested deeper than 512 levels"), "{depth}: {result}");
            // The path is shortened, not 512 repetitions of "[0]".
            assert!(result.len() < 300, "{depth}: {result}");
        }
    }
}
