//! End-to-end tests of examples/flask-polyglot over loopback, both ways of
//! running it: the Flask app alone (`tandem run --wsgi app.py`) and
//! mounted at /flask behind the TypeScript routes of server.ts. The Flask
//! routes call TypeScript (typescript_utils.ts) from their request threads.

mod support;

use serde_json::{json, Value};
use support::{post, Server};

const VIRGINICA: &str = r#"{"sepal_length":6.3,"sepal_width":3.3,"petal_length":6.0,"petal_width":2.5}"#;
const SETOSA: &str = r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;
// support::post sends Content-Type: application/json already.
const JSON: &str = "";

/// The Flask routes, served under `prefix` ("" for --wsgi, "/flask" when
/// server.ts mounts the app).
fn check_flask_routes(server: &Server, prefix: &str) {
    let port = server.port;
    let index = server.get(&format!("{prefix}/")).json();
    assert_eq!(index["service"], "flask");
    // url_for sees the mount point (SCRIPT_NAME).
    assert_eq!(index["predict"], format!("{prefix}/predict"));
    assert_eq!(index["model"]["classes"], json!(["setosa", "versicolor", "virginica"]));

    // Python validates with TypeScript, predicts, formats with TypeScript.
    let r = post(port, &format!("{prefix}/predict"), JSON, VIRGINICA);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["species"], "virginica");
    assert!(v["probability"].as_f64().unwrap() > 0.9, "{v}");
    assert!(v["summary"].as_str().unwrap().starts_with("Iris virginica ("), "{v}");
    // An async TypeScript function, awaited for the Python caller.
    assert_eq!(v["audit"]["event"], "predict");
    assert_eq!(v["audit"]["species"], "virginica");
    assert!(v["audit"]["at"].as_str().unwrap().ends_with('Z'));
    let r = post(port, &format!("{prefix}/predict"), JSON, SETOSA);
    assert_eq!(r.json()["species"], "setosa");

    // TypeScript's validation errors come back as Python lists of dicts.
    let r = post(port, &format!("{prefix}/predict"), JSON, r#"{"sepal_length":"long","petal_width":-1}"#);
    assert_eq!(r.status, 400);
    let details: Vec<Value> = r.json()["details"].as_array().unwrap().clone();
    let fields: Vec<&str> = details.iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["sepal_length", "sepal_width", "petal_length", "petal_width"]);
    assert_eq!(details[0]["message"], "must be a number");
    assert_eq!(details[3]["message"], "must be between 0 and 100 (cm)");

    let r = server.get(&format!("{prefix}/slug/Cr%C3%A8me%20Br%C3%BBl%C3%A9e%21"));
    assert_eq!(r.json(), json!({"title": "Crème Brûlée!", "slug": "creme-brulee"}));

    // A TypeScript exception reaches Flask as tandem.JSError.
    let r = server.get(&format!("{prefix}/ts-error"));
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["caught"], "TypeError");

    assert_eq!(server.get(&format!("{prefix}/no-such-route")).status, 404);
}

/// Many concurrent requests, each calling TypeScript from a Flask thread.
fn check_concurrent_predictions(server: &Server, prefix: &str) {
    let port = server.port;
    let path = format!("{prefix}/predict");
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let body = if i % 2 == 0 { VIRGINICA } else { SETOSA };
                let r = post(port, &path, JSON, body);
                (i, r.status, r.json()["species"].as_str().map(String::from))
            })
        })
        .collect();
    for t in threads {
        let (i, status, species) = t.join().unwrap();
        assert_eq!(status, 200);
        assert_eq!(species.as_deref(), Some(if i % 2 == 0 { "virginica" } else { "setosa" }));
    }
}

#[test]
fn the_flask_app_alone_on_tandem_wsgi() {
    let server = Server::start(&["--wsgi"], "examples/flask-polyglot/app.py");
    check_flask_routes(&server, "");
    check_concurrent_predictions(&server, "");
}

#[test]
fn server_ts_mounts_flask_beside_typescript_routes() {
    let server = Server::start(&[], "examples/flask-polyglot/server.ts");
    let port = server.port;
    check_flask_routes(&server, "/flask");
    check_concurrent_predictions(&server, "/flask");

    // TypeScript routes calling the same Python model directly.
    let health = server.get("/api/health").json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["model"]["training_rows"], 150);
    let r = post(port, "/api/predict", "", VIRGINICA);
    assert_eq!(r.json()["species"], "virginica");
    assert!(r.json()["summary"].as_str().unwrap().starts_with("Iris virginica ("));
    let r = post(port, "/api/predict", "", r#"{"sepal_length":1}"#);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["details"].as_array().unwrap().len(), 3);
    assert_eq!(post(port, "/api/predict", "", "not json").status, 400);

    // The router's middleware wraps Flask's responses too.
    let r = server.get("/flask/");
    assert!(r.header("x-request-id").is_some(), "{:?}", r.headers);
    let log = server.wait_for_line("\"path\":\"/flask/\"");
    assert!(log.contains("\"status\":200"), "{log}");
    assert_eq!(server.get("/elsewhere").status, 404);
}
