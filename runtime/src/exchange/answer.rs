//! The answers the server gives itself, in one wording for every kind of
//! app: JSON errors, and the deadline on an app's reply (503 when it
//! passes, 500 when the reply is dropped). The 413 for a body over the
//! limit is `BodyLimit::refusal` (request_body.rs).

use std::time::{Duration, Instant};

use http::{HeaderValue, Response, StatusCode};
use tokio::sync::oneshot;

use super::body::Body;

pub(crate) fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `{"error": message}` with `status`: how the server itself answers what
/// it refuses.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, serde_json::json!({ "error": message }).to_string())
}

/// `{"error": message, "requestId": id}` with `status`: the server's
/// answer for a request it took but could not get answered.
pub(crate) fn request_error(status: StatusCode, message: &str, request_id: impl std::fmt::Display) -> Response<Body> {
    json_response(status, serde_json::json!({ "error": message, "requestId": request_id.to_string() }).to_string())
}

/// A request's deadline: one instant that the reply's timer and the
/// worker's watchdog (crate::apps::watchdog) both keep, and the limit it
/// came from, for messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) due: Instant,
    pub(crate) limit: Duration,
}

impl Deadline {
    /// `limit` from now.
    pub(crate) fn after(limit: Duration) -> Deadline {
        Deadline { due: Instant::now() + limit, limit }
    }
}

/// Awaits an app's reply to request `request_id` until `deadline`. The
/// error is the answer the client gets instead: 503 after the deadline,
/// 500 if the app dropped the request without replying.
pub(crate) async fn within<T>(
    deadline: Deadline,
    reply: impl std::future::Future<Output = Result<T, oneshot::error::RecvError>>,
    request_id: impl std::fmt::Display,
) -> Result<T, Response<Body>> {
    match tokio::time::timeout_at(deadline.due.into(), reply).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(_)) => Err(request_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request was dropped without a response",
            request_id,
        )),
        Err(_) => Err(request_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the handler did not answer within {} s (see --handler-timeout)", deadline.limit.as_secs_f64()),
            request_id,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_reply_after_the_deadline_is_a_503() {
        let (_keep, reply) = oneshot::channel::<()>();
        let answer = within(Deadline::after(Duration::from_millis(20)), reply, 7).await.unwrap_err();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = http_body_util::BodyExt::collect(answer.into_body()).await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["requestId"], "7");
        assert!(body["error"].as_str().unwrap().contains("--handler-timeout"), "{body}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_reply_is_a_500_and_a_sent_one_comes_through() {
        let (tx, reply) = oneshot::channel::<u8>();
        drop(tx);
        assert_eq!(within(Deadline::after(Duration::from_secs(2)), reply, 1).await.unwrap_err().status(), StatusCode::INTERNAL_SERVER_ERROR);
        let (tx, reply) = oneshot::channel::<u8>();
        tx.send(7).unwrap();
        assert_eq!(within(Deadline::after(Duration::from_secs(2)), reply, 1).await.ok(), Some(7));
    }
}
