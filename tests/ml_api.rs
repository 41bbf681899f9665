//! End-to-end tests of the ML API example (examples/ml-api): the real
//! binary serving server.ts with the real models that train.py wrote,
//! called over loopback.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use support::{root, Response, Server};

const SERVER: &str = "examples/ml-api/server.ts";

fn start(env: &[(&str, &str)]) -> Server {
    let mut env = env.to_vec();
    env.push(("LOG", "off"));
    Server::start_with_env(&[], SERVER, 1, &env)
}

fn post_json(server: &Server, path: &str, body: &serde_json::Value) -> Response {
    server.post(path, &body.to_string())
}

fn python() -> String {
    match std::env::var("VIRTUAL_ENV") {
        Ok(venv) => format!("{venv}/bin/python"),
        Err(_) => "python3".into(),
    }
}

/// Held-out digit images as (label, base64 PNG), from the test split
/// train.py kept aside.
fn digit_images(count: usize) -> Vec<(u64, String)> {
    let output = Command::new(python())
        .arg(root().join("tests/ml_api/digit_images.py"))
        .arg(count.to_string())
        .output()
        .expect("run digit_images.py");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (v["label"].as_u64().unwrap(), v["png"].as_str().unwrap().to_string())
        })
        .collect()
}

fn base64_decode(text: &str) -> Vec<u8> {
    let output = Command::new(python())
        .args(["-c", "import base64,sys; sys.stdout.buffer.write(base64.b64decode(sys.argv[1]))", text])
        .output()
        .unwrap();
    output.stdout
}

/// Reviews written apart from the training data's generator
/// (examples/ml-api/data/make_sentiment.py): other subjects, other
/// sentence shapes, few of its phrases. As (text, label).
fn held_out_reviews() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("tests/ml_api/sentiment_held_out.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let (text, label) = line.rsplit_once(',').unwrap();
            (text.trim_matches('"').to_string(), label.to_string())
        })
        .collect()
}

#[test]
fn sentiment_of_held_out_reviews() {
    let server = start(&[]);
    let reviews = held_out_reviews();
    let mut right = 0;
    for (text, expected) in &reviews {
        let r = post_json(&server, "/api/sentiment", &serde_json::json!({ "text": text }));
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        let label = v["sentiment"].as_str().unwrap().to_string();
        let scores = &v["scores"];
        let total: f64 = ["negative", "neutral", "positive"].iter().map(|k| scores[k].as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 0.01, "{v}");
        assert_eq!(v["confidence"], scores[label.as_str()], "{v}");
        if &label == expected {
            right += 1;
        } else {
            eprintln!("held-out review labelled {label}, expected {expected}: {text}");
        }
    }
    let accuracy = right as f64 / reviews.len() as f64;
    eprintln!("sentiment accuracy on {} held-out reviews: {right}/{} = {accuracy:.3}", reviews.len(), reviews.len());
    // Chance is a third; the model trained on generated templates scores
    // 23/24 on these.
    assert!(accuracy >= 0.8, "only {right} of {} held-out reviews labelled right", reviews.len());

    // The batch route labels each text as the single route does.
    let texts: Vec<&str> = reviews.iter().map(|(t, _)| t.as_str()).collect();
    let r = post_json(&server, "/api/sentiment/batch", &serde_json::json!({ "texts": texts }));
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json()["results"].clone();
    assert_eq!(results.as_array().unwrap().len(), texts.len());
    for (i, text) in texts.iter().enumerate() {
        let single = post_json(&server, "/api/sentiment", &serde_json::json!({ "text": text })).json();
        assert_eq!(results[i]["sentiment"], single["sentiment"], "{text}");
    }
}

#[test]
fn bad_inputs_get_400_naming_the_field() {
    let server = start(&[]);
    let long = "a".repeat(10_001);
    let cases = [
        ("/api/sentiment", serde_json::json!({ "text": "" }), "text"),
        ("/api/sentiment", serde_json::json!({ "text": long }), "text"),
        ("/api/sentiment", serde_json::json!({ "words": "hello" }), "text"),
        ("/api/sentiment/batch", serde_json::json!({ "texts": "one" }), "texts"),
        ("/api/sentiment/batch", serde_json::json!({ "texts": [] }), "texts"),
        ("/api/recommend", serde_json::json!({ "user_id": -1 }), "user_id"),
        ("/api/recommend", serde_json::json!({ "user_id": 1, "n": 1000 }), "n"),
        ("/api/classify", serde_json::json!({}), "image"),
        ("/api/classify", serde_json::json!({ "image": "aGVsbG8=", "top_k": 0 }), "top_k"),
    ];
    for (path, body, field) in cases {
        let r = post_json(&server, path, &body);
        assert_eq!(r.status, 400, "{path} {body}: {}", r.body);
        assert!(r.body.contains(&format!("\"field\":\"{field}\"")), "{path} {body}: {}", r.body);
    }
    let r = server.post("/api/sentiment", "{not json");
    assert_eq!(r.status, 400, "{}", r.body);
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(error.starts_with("the request body is not valid JSON"), "{error}");
    // Errors raised by the Python model code come back as 400 too.
    let r = post_json(&server, "/api/classify", &serde_json::json!({ "image": "not base64!" }));
    assert_eq!((r.status, r.json()["error"].clone()), (400, "image is not valid base64 (or a data: URL)".into()));
    let r = post_json(&server, "/api/classify", &serde_json::json!({ "image": "aGVsbG8=" }));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("expected a PNG or JPEG"), "{}", r.body);
    assert_eq!(r.json()["type"], "InputError", "{}", r.body);
    // The server keeps serving: a route through the isolate and Python.
    let r = post_json(&server, "/api/sentiment", &serde_json::json!({ "text": "I love it, wonderful" }));
    assert_eq!((r.status, r.json()["sentiment"].clone()), (200, "positive".into()), "{}", r.body);
}

#[test]
fn held_out_digits_are_classified() {
    let server = start(&[]);
    let images = digit_images(60);
    let mut right = 0;
    for (label, png) in &images {
        let r = post_json(&server, "/api/classify", &serde_json::json!({ "image": png, "top_k": 3 }));
        assert_eq!(r.status, 200, "{}", r.body);
        let predictions = r.json()["predictions"].clone();
        assert_eq!(predictions.as_array().unwrap().len(), 3);
        if predictions[0]["label"] == label.to_string() {
            right += 1;
        }
    }
    // Chance is 10%; the model scores ~98% on the raw held-out set.
    assert!(right * 100 >= images.len() * 85, "{right} of {} right", images.len());

    // A data: URL and a multipart upload of the same image.
    let (label, png) = &images[0];
    let r = post_json(&server, "/api/classify", &serde_json::json!({ "image": format!("data:image/png;base64,{png}") }));
    assert_eq!(r.status, 200, "{}", r.body);
    let from_data_url = r.json()["predictions"][0].clone();
    let r = post_json(&server, "/api/classify", &serde_json::json!({ "image": png }));
    assert_eq!(r.json()["predictions"][0], from_data_url, "a data: URL and plain base64 of one image differ");
    assert_eq!(from_data_url["class_id"], *label, "{from_data_url}");
    let bytes = base64_decode(png);
    let boundary = "tandemboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"digit.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut raw = format!(
        "POST /api/classify?top_k=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let r = support::request(server.port, &raw);
    assert_eq!(r.status, 200, "{}", r.body);
    let predictions = r.json()["predictions"].clone();
    assert_eq!(predictions.as_array().unwrap().len(), 1);
    assert_eq!(predictions[0]["class_id"], *label, "{}", r.body);
}

/// Serves `body` once to each connection, after `delay`; with
/// `declare_length` false the body has no Content-Length and ends when the
/// connection closes, so only its bytes can tell how large it is.
fn image_host(body: Vec<u8>, delay: Duration, declare_length: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                std::thread::sleep(delay);
                let length = if declare_length { format!("Content-Length: {}\r\n", body.len()) } else { String::new() };
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n{length}Connection: close\r\n\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    port
}

#[test]
fn images_by_url_with_timeout_and_size_cap() {
    let server = start(&[("IMAGE_FETCH_TIMEOUT_MS", "500"), ("IMAGE_MAX_BYTES", "2000")]);
    let (label, png) = digit_images(1).remove(0);
    let png = base64_decode(&png);

    let port = image_host(png.clone(), Duration::ZERO, true);
    let url = format!("http://127.0.0.1:{port}/digit.png");
    let r = post_json(&server, "/api/classify", &serde_json::json!({ "url": url }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["predictions"][0]["class_id"], label, "{}", r.body);

    let slow = image_host(png.clone(), Duration::from_secs(3), true);
    let r = post_json(&server, "/api/classify", &serde_json::json!({ "url": format!("http://127.0.0.1:{slow}/") }));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("no answer within 500 ms"), "{}", r.body);

    // Too large, said by Content-Length (refused before reading) and found
    // while reading a body of unknown length.
    for declare_length in [true, false] {
        let big = image_host(vec![0u8; 5000], Duration::ZERO, declare_length);
        let r = post_json(&server, "/api/classify", &serde_json::json!({ "url": format!("http://127.0.0.1:{big}/") }));
        assert_eq!(r.status, 413, "Content-Length sent: {declare_length}: {}", r.body);
        assert_eq!(r.json()["error"], "the image is larger than 2000 bytes", "{}", r.body);
    }
    // Under the cap without a Content-Length: read to the end and classified.
    assert!(png.len() < 2000, "the test image is {} bytes", png.len());
    let unsized_host = image_host(png, Duration::ZERO, false);
    let r = post_json(&server, "/api/classify", &serde_json::json!({ "url": format!("http://127.0.0.1:{unsized_host}/") }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["predictions"][0]["class_id"], label, "{}", r.body);

    let r = post_json(&server, "/api/classify", &serde_json::json!({ "url": "ftp://example.com/a.png" }));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "url must be http or https, got ftp:", "{}", r.body);
    let r = post_json(&server, "/api/classify", &serde_json::json!({ "url": "not a url" }));
    assert_eq!((r.status, r.json()["error"].clone()), (400, "url is not a valid URL: not a url".into()), "{}", r.body);
}

#[test]
fn recommendations_exclude_seen_items() {
    let server = start(&[]);
    for user in [0, 7, 42] {
        let seen = server.get(&format!("/api/users/{user}/items")).json()["items"].clone();
        let seen: Vec<&str> = seen.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(!seen.is_empty());
        let r = post_json(&server, "/api/recommend", &serde_json::json!({ "user_id": user, "n": 10 }));
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["strategy"], "item-item");
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 10);
        let mut last = f64::INFINITY;
        for item in items {
            let name = item["item"].as_str().unwrap();
            assert!(!seen.contains(&name), "user {user} already has {name}");
            let score = item["score"].as_f64().unwrap();
            assert!(score <= last, "scores not in order: {v}");
            last = score;
        }
    }
    let r = post_json(&server, "/api/recommend", &serde_json::json!({ "user_id": 1_000_000, "n": 5 }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["strategy"], "popular");
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 5);
}

/// The sum and count of the batch-size histogram of `function`.
fn batch_metrics(server: &Server, function: &str) -> (f64, f64) {
    let text = server.get("/metrics").body;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{function=\"{function}\"}}")))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .unwrap_or(0.0)
    };
    (value("tandem_python_batch_size_sum"), value("tandem_python_batch_size_count"))
}

/// Sends 48 sentiment requests at once, each checked for its own answer.
fn concurrent_sentiment_requests(server: &Server) {
    let port = server.port;
    let threads: Vec<_> = (0..48)
        .map(|i| {
            std::thread::spawn(move || {
                let (text, expected) = if i % 2 == 0 {
                    (format!("Request {i}: excellent, I love it"), "positive")
                } else {
                    (format!("Request {i}: terrible, I hate it"), "negative")
                };
                let body = serde_json::json!({ "text": text }).to_string();
                let r = support::post(port, "/api/sentiment", "", &body);
                assert_eq!(r.status, 200, "{}", r.body);
                assert_eq!(r.json()["sentiment"], expected, "request {i}: {}", r.body);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn concurrent_calls_are_batched_and_each_caller_gets_its_answer() {
    // A 200 ms window makes the gathering certain on a busy machine.
    let server = start(&[("BATCH_WAIT_MS", "200")]);
    concurrent_sentiment_requests(&server);
    // A request alone in its worker calls the model directly; the others
    // went through the batcher, several to a batch.
    let (sum, count) = batch_metrics(&server, "ml_service.sentiment_batched");
    eprintln!("{sum} of 48 concurrent calls batched, in {count} batches");
    assert!(sum >= 24.0, "only {sum} of 48 concurrent calls were batched");
    assert!(sum >= 6.0 * count, "{sum} batched calls ran in {count} batches: fewer than 6 a batch on average");
}

/// sentiment@v2 is registered with batch=: concurrent calls of it are
/// gathered, each caller gets its own answer, and the batch sizes are on
/// /metrics per version (v1, unbatched, is called one input at a time).
#[test]
fn a_batched_model_version_gathers_concurrent_calls_and_reports_batch_sizes() {
    let server = start(&[("BATCH_WAIT_MS", "200")]);
    let port = server.port;
    let threads: Vec<_> = (0..32)
        .map(|i| {
            std::thread::spawn(move || {
                let (text, expected) =
                    if i % 2 == 0 { ("excellent, I love it", "positive") } else { ("terrible, I hate it", "negative") };
                let body = serde_json::json!({ "text": text }).to_string();
                let r = support::post(port, "/api/models/sentiment", "X-Model-Version: v2\r\n", &body);
                assert_eq!(r.status, 200, "{}", r.body);
                let answer = r.json();
                assert_eq!((answer["version"].as_str(), answer["result"]["sentiment"].as_str()), (Some("v2"), Some(expected)), "{answer}");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(support::post(port, "/api/models/sentiment", "", r#"{"text":"fine"}"#).json()["version"], "v1");
    let metrics = server.get("/metrics").body;
    let value = |name: &str, version: &str| -> f64 {
        let prefix = format!("{name}{{model=\"sentiment\",version=\"{version}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(&prefix)?.parse().ok()).unwrap_or(0.0)
    };
    let (sum, count) = (value("tandem_model_batch_size_sum", "v2"), value("tandem_model_batch_size_count", "v2"));
    assert_eq!(sum, 32.0, "{metrics}");
    assert!(count <= 8.0, "32 concurrent calls of v2 ran in {count} batches: fewer than 4 a batch on average");
    assert_eq!(value("tandem_model_calls_total", "v2"), 32.0, "{metrics}");
    assert_eq!((value("tandem_model_batch_size_sum", "v1"), value("tandem_model_batch_size_count", "v1")), (1.0, 1.0));
}

#[test]
fn batching_off_calls_the_model_per_request() {
    let server = start(&[("BATCHING", "off"), ("BATCH_WAIT_MS", "200")]);
    assert_eq!(server.get("/").json()["batching"], false);
    concurrent_sentiment_requests(&server);
    assert_eq!(batch_metrics(&server, "ml_service.sentiment_batched"), (0.0, 0.0));
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains(r#"tandem_python_calls_total{function="ml_service.sentiment"} 48"#),
        "the 48 requests did not each call the model:\n{metrics}"
    );
}

#[test]
fn auth_and_rate_limit_switched_on_by_configuration() {
    let server = start(&[("API_KEYS", "k1,k2"), ("RATE_LIMIT", "2")]);
    let body = r#"{"text":"great"}"#;
    let post = |headers: &str| support::post(server.port, "/api/sentiment", headers, body);
    let r = post("");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().starts_with("authentication required"), "{}", r.body);
    assert_eq!(post("x-api-key: wrong\r\n").status, 403);
    // RATE_LIMIT=2: a bucket of 4 per client, refilled at 2 a second, used
    // after auth (refused requests take no token).
    let first_token = std::time::Instant::now();
    assert_eq!(post("x-api-key: k1\r\n").status, 200);
    assert_eq!(post("Authorization: Bearer k2\r\n").status, 200);
    // "/" is on auth()'s public list: a router route answered through the
    // isolate and Python without a key (it takes a token). A route off the
    // list is refused.
    let r = server.get("/");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["models"]["sentiment"].is_object(), "{}", r.body);
    assert_eq!(server.get("/api/users/1/items").status, 401);
    // One token is left, plus what refilled meanwhile.
    let statuses: Vec<u16> = (0..8).map(|_| post("x-api-key: k1\r\n").status).collect();
    let refilled = (first_token.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    let passed = statuses.iter().filter(|&&s| s == 200).count();
    assert!(statuses.iter().all(|&s| s == 200 || s == 429), "{statuses:?}");
    assert!((1..=1 + refilled).contains(&passed), "{passed} of 8 passed with 1 token left, {refilled} refilled: {statuses:?}");
    let limited = post("x-api-key: k1\r\n");
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
}

/// /api/sentiment/stream: one Server-Sent Event per sentence, read as they
/// come, each the answer /api/sentiment gives for that sentence.
#[test]
fn a_long_text_is_scored_sentence_by_sentence_as_a_stream() {
    use std::io::BufRead;
    let server = start(&[]);
    let sentences = ["I love this phone, it is wonderful.", "The battery died after a day!", "Terrible support?", "Great value."];
    let text = sentences.join(" ");
    let body = serde_json::json!({ "text": text }).to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        stream,
        "POST /api/sentiment/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(reader.read_line(&mut head).unwrap() > 0, "{head}");
    }
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("text/event-stream"), "{head}");
    let mut events = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            let event: serde_json::Value = serde_json::from_str(data).unwrap();
            let i = events.len();
            assert_eq!(event["index"], i);
            assert_eq!(event["sentence"], sentences[i]);
            let single = post_json(&server, "/api/sentiment", &serde_json::json!({ "text": sentences[i] })).json();
            assert_eq!(event["sentiment"], single["sentiment"]);
            assert_eq!(event["scores"], single["scores"]);
            events.push(event);
        }
        line.clear();
    }
    assert_eq!(events.len(), sentences.len());
    // GET ?text= for EventSource, and a 400 without text.
    let r = server.get("/api/sentiment/stream?text=Great%20value.%20Awful%20box.");
    assert_eq!(r.body.matches("data: ").count(), 2, "{}", r.body);
    let r = server.get("/api/sentiment/stream");
    assert_eq!((r.status, r.json()["details"][0]["field"].clone()), (400, "text".into()), "{}", r.body);
    let r = post_json(&server, "/api/sentiment/stream", &serde_json::json!({ "text": 7 }));
    assert_eq!(r.status, 400, "{}", r.body);
}

/// /api/sentiment/ws: each text message answered sentence by sentence,
/// texts in order, each sentence the answer /api/sentiment gives; a bad
/// message answered with an error, the socket left open.
#[test]
fn texts_over_a_websocket_are_scored_sentence_by_sentence() {
    let server = start(&[]);
    let out = std::process::Command::new(python())
        .args([support::root().join("tests/websocket/client.py").to_str().unwrap(), &server.port.to_string(), "sentiment"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    let sentences = ["I love this phone, it is wonderful.", "The battery died after a day!", "Great value."];
    let messages: Vec<serde_json::Value> = lines[..5].iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (message, (index, sentence)) in [&messages[0], &messages[1], &messages[3]].into_iter().zip([(0, sentences[0]), (1, sentences[1]), (0, sentences[2])]) {
        assert_eq!((message["index"].as_u64(), message["sentence"].as_str()), (Some(index), Some(sentence)));
        let single = post_json(&server, "/api/sentiment", &serde_json::json!({ "text": sentence })).json();
        assert_eq!(message["sentiment"], single["sentiment"]);
        assert_eq!(message["scores"], single["scores"]);
    }
    assert_eq!(messages[2], serde_json::json!({ "done": true, "sentences": 2 }));
    assert_eq!(messages[4], serde_json::json!({ "done": true, "sentences": 1 }));
    assert_eq!(lines[5], "send a text message of 1 to 100000 characters");
}

/// Two sentiment versions side by side: chosen by X-Model-Version, split
/// by weight (the same version for the same X-User-Id), shadowed (counted
/// on /metrics, never returned), loaded and unloaded by the admin routes
/// while requests keep coming, none of them failing.
#[test]
fn model_versions_by_header_split_shadow_and_admin_routes() {
    let server = start(&[("ADMIN_KEYS", "adm")]);
    let port = server.port;
    let predict = |headers: &str| support::post(port, "/api/models/sentiment", headers, r#"{"text":"terrible, it broke"}"#);
    let admin = |method: &str, path: &str, body: &str| {
        support::request(
            port,
            format!(
                "{method} {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: adm\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    // v1 takes the traffic; v2 answers when asked for by name.
    assert_eq!(predict("").json()["version"], "v1");
    let v2 = predict("X-Model-Version: v2\r\n").json();
    assert_eq!((v2["version"].as_str(), v2["result"]["sentiment"].as_str()), (Some("v2"), Some("negative")), "{v2}");
    let r = predict("X-Model-Version: v9\r\n");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("no version 'v9'"), "{}", r.body);
    // Admin routes need an admin key.
    assert_eq!(server.get("/admin/models").status, 401);
    assert_eq!(admin("GET", "/admin/models", "").json()["sentiment"]["versions"]["v2"]["loaded"], true);
    // A 50/50 split, sticky per user.
    let r = admin("PUT", "/admin/models/sentiment/traffic", r#"{"weights":{"v1":1,"v2":1}}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let mut seen = std::collections::HashSet::new();
    for user in 0..40 {
        let header = format!("X-User-Id: user-{user}\r\n");
        let first = predict(&header).json()["version"].clone();
        for _ in 0..2 {
            assert_eq!(predict(&header).json()["version"], first, "user-{user} changed version");
        }
        seen.insert(first.as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 2, "40 users all landed on {seen:?}");
    // Shadow: v1 answers, v2 gets a copy whose agreement is counted.
    let r = admin("PUT", "/admin/models/sentiment/traffic", r#"{"weights":{"v1":1},"shadow":"v2"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    for _ in 0..10 {
        assert_eq!(predict("").json()["version"], "v1");
    }
    let shadowed = |metrics: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with("tandem_model_shadow_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while shadowed(&server.get("/metrics").body) < 10.0 {
        assert!(std::time::Instant::now() < deadline, "shadow calls never counted: {}", server.get("/metrics").body);
        std::thread::sleep(Duration::from_millis(50));
    }
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains(r#"tandem_model_shadow_total{candidate="v2",model="sentiment",outcome="agree",primary="v1"}"#), "{metrics}");
    assert!(metrics.contains(r#"tandem_model_predictions_total{label="negative",model="sentiment",version="v1"}"#), "{metrics}");
    // Unload and load v2 five times under a steady stream of requests.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = support::post(port, "/api/models/sentiment", "", r#"{"text":"fine"}"#);
                assert_eq!((r.status, r.json()["version"].clone()), (200, "v1".into()), "{}", r.body);
                answered += 1;
            }
            answered
        })
    };
    for _ in 0..5 {
        assert_eq!(admin("POST", "/admin/models/sentiment/v2/unload", "").status, 200);
        assert_eq!(predict("X-Model-Version: v2\r\n").status, 404);
        assert_eq!(admin("POST", "/admin/models/sentiment/v2/load", "").json()["versions"]["v2"]["loaded"], true);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(load.join().unwrap() > 0);
    // Weights must be numbers >= 0, some above 0.
    let r = admin("PUT", "/admin/models/sentiment/traffic", r#"{"weights":{"v1":"lots"}}"#);
    assert_eq!((r.status, r.json()["details"][0]["field"].clone()), (400, "weights".into()), "{}", r.body);
    let r = admin("PUT", "/admin/models/sentiment/traffic", r#"{"weights":{"v9":1}}"#);
    assert_eq!(r.status, 404, "{}", r.body);
    // The version with all the traffic cannot be unloaded.
    let r = admin("POST", "/admin/models/sentiment/v1/unload", "");
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("takes all the traffic"), "{}", r.body);
}

/// Without ADMIN_KEYS the admin routes are off.
#[test]
fn admin_routes_are_off_without_admin_keys() {
    let server = start(&[]);
    let r = server.get("/admin/models");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("ADMIN_KEYS"), "{}", r.body);
}
