//! The service on a socket: HTTP/1.1 with hyper on a tokio runtime.
//!
//! Every request is bounded: its headers must arrive within
//! [`HEADER_TIMEOUT`], its body may not exceed the configured size (413),
//! and its answer must be ready within the configured time (503). At most
//! [`MAX_CONNECTIONS`] connections are served at once; others wait in the
//! listen backlog. On shutdown it stops accepting, lets requests in flight
//! finish (up to [`DRAIN_TIMEOUT`]), and returns.
//!
//! It never evaluates anything itself: [`super::Service::handle`] does.

use std::convert::Infallible;
use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{watch, Semaphore};

use super::{Reply, Service};

/// The longest a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// The longest shutdown waits for requests in flight.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A body this large (or a plan, what-if, who or reload) is answered on a blocking thread, not on the runtime's.
const INLINE_BODY_BYTES: usize = 64 * 1024;

/// Serves `service` on `listener` until `shutdown` resolves, then drains. Blocks the calling thread.
/// `on_reload_signal` is polled for SIGHUP-like triggers: each time it yields, the definitions reload.
pub fn serve<S, R>(service: Arc<Service>, listener: TcpListener, shutdown: S, reloads: R) -> std::io::Result<()>
where
    S: Future<Output = ()> + Send + 'static,
    R: FnOnce(Arc<Service>) -> Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> + Send + 'static,
{
    listener.set_nonblocking(true)?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = service.config().workers {
        builder.worker_threads(workers.max(1));
    }
    let runtime = builder.enable_all().thread_name("entitle-serve").build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        if let Some(reloading) = reloads(service.clone()) {
            tokio::spawn(reloading);
        }
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
            };
            let (stream, _) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    // A connection reset before it was accepted, or out of descriptors: keep serving.
                    Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue }
                },
            };
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            let mut stop = stop_rx.clone();
            connections.spawn(async move {
                let _permit = permit;
                let handler = service_fn(move |request| {
                    let service = service.clone();
                    async move { Ok::<_, Infallible>(respond(service, request).await) }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(256 * 1024)
                    .serve_connection(TokioIo::new(stream), handler);
                tokio::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    _ = stopped(&mut stop) => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            });
            // Finished connections are reaped as we go, so the set stays as small as what is open.
            while connections.try_join_next().is_some() {}
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, async { while connections.join_next().await.is_some() {} }).await;
        Ok(())
    })
}

/// Resolves once shutdown has begun.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        let now = *stop.borrow_and_update();
        if now || stop.changed().await.is_err() {
            return;
        }
    }
}

/// One request to its answer, within the size and time bounds.
async fn respond(service: Arc<Service>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (max_body_bytes, request_timeout) = (service.config().max_body_bytes, service.config().request_timeout);
    let method = request.method().as_str().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_string(), |p| p.as_str().to_string());
    let authorization = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let declared = request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        Reply::error(
            413,
            "payload-too-large",
            format!(
                "the request body is larger than the {} bytes allowed (`--max-body`)",
                max_body_bytes
            ),
            &service.current().policy_sha256,
        )
    };
    if declared.is_some_and(|n| n > max_body_bytes) {
        return to_response(too_large());
    }
    let work = async {
        let body = match Limited::new(request.into_body(), max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return too_large(),
            Err(e) => {
                return Reply::error(
                    400,
                    "bad-request",
                    format!("the request body could not be read: {e}"),
                    &service.current().policy_sha256,
                )
            }
        };
        let route = path.split('?').next().unwrap_or_default();
        let heavy =
            body.len() > INLINE_BODY_BYTES || matches!(route, "/v1/plan" | "/v1/whatif" | "/v1/reload") || route.starts_with("/v1/who/");
        if heavy {
            let worker = service.clone();
            match tokio::task::spawn_blocking(move || worker.handle(&method, &path, authorization.as_deref(), &body)).await {
                Ok(reply) => reply,
                Err(e) => Reply::error(
                    500,
                    "internal",
                    format!("the request failed: {e}"),
                    &service.current().policy_sha256,
                ),
            }
        } else {
            service.handle(&method, &path, authorization.as_deref(), &body)
        }
    };
    let reply = match tokio::time::timeout(request_timeout, work).await {
        Ok(reply) => reply,
        Err(_) => Reply::error(
            503,
            "timeout",
            format!(
                "the request took longer than the {} s allowed (`--timeout`)",
                request_timeout.as_secs_f64()
            ),
            &service.current().policy_sha256,
        ),
    };
    to_response(reply)
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(reply.content_type),
    );
    if let Ok(hash) = hyper::header::HeaderValue::from_str(&reply.policy_sha256) {
        headers.insert("x-entitle-policy-sha256", hash);
    }
    response
}
