//! Embedding Tandem in a Rust program: register a Rust function that
//! TypeScript can call, load a TypeScript module that imports Python, and
//! call one of its exports with serde values.
//!
//! Run from the repository root: `cargo run --release -p tandem-embed-example`.

use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tandem::{Runtime, RuntimeOptions};

#[derive(Serialize)]
struct Order {
    sku: String,
    quantity: u32,
    unit_price: f64,
}

#[derive(Deserialize)]
struct Quote {
    subtotal: f64,
    discount: f64,
    tax: f64,
    total: f64,
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut runtime = Runtime::new(RuntimeOptions {
        module_root: Some(root.clone()),
        ..Default::default()
    })?;
    // Callable from TypeScript as Tandem.host.call("tax_rate", region).
    runtime.register_function("tax_rate", |args| {
        match args.first().and_then(|v| v.as_str()) {
            Some("eu") => Ok(serde_json::json!(0.2)),
            Some("us") => Ok(serde_json::json!(0.07)),
            other => Err(format!("unknown region {other:?}")),
        }
    });
    let module = runtime.load_module("pricing.ts").context("loading pricing.ts")?;
    let order = Order { sku: "widget".into(), quantity: 12, unit_price: 2.5 };
    let quote: Quote = runtime.call_function(&module, "quote", &(&order, "eu"))?;
    println!(
        "quote: subtotal {:.2}, discount {:.2}, tax {:.2}, total {:.2}",
        quote.subtotal, quote.discount, quote.tax, quote.total
    );
    let err = runtime
        .call_function::<_, serde_json::Value>(&module, "quote", &(&order, "mars"))
        .expect_err("an unknown region is an error");
    println!("error for region mars: {}", err.to_string().lines().next().unwrap_or(""));
    Ok(())
}
