//! The JSON-RPC accept loop: jsonrpsee's service on connections lanes
//! accepts itself, so that what a connection may hold is bounded.
//!
//! jsonrpsee's own `max_connections` counts requests in flight and WebSocket
//! sessions, not sockets: an idle keep-alive connection holds nothing, and
//! hyper without a timer never closes one. Here every TCP connection takes
//! one of [`RpcLimits::max_connections`] permits for its whole life (a
//! connection past them is answered 503 and closed), and hyper's header-read
//! timeout ([`RpcLimits::request_timeout`]) closes a connection whose next
//! request's headers do not arrive in time — idle keep-alive ones included.
//! The request body's own deadline is the HTTP middleware's. HTTP/1.1 only
//! (with WebSocket upgrades), as geth serves JSON-RPC: hyper's HTTP/2
//! detection would wait for a first byte without a timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, SizeHint};

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpRequest, HttpResponse, ServerHandle, StopHandle, stop_channel};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::RpcLimits;

/// Serves `make`'s services on `listener` until the returned handle stops
/// it; `make` builds the service of one connection.
pub(crate) fn spawn<S>(
    listener: TcpListener,
    limits: &RpcLimits,
    make: impl Fn(StopHandle) -> S + Send + 'static,
) -> ServerHandle
where
    S: tower::Service<
            HttpRequest<hyper::body::Incoming>,
            Response = HttpResponse,
            Error = BoxError,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (stop, handle) = stop_channel();
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (max, header_timeout) = (limits.max_connections, limits.request_timeout);
    tokio::spawn(async move {
        let stopped = stop.clone().shutdown();
        tokio::pin!(stopped);
        loop {
            let (socket, remote) = tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then go on.
                        tracing::warn!(target: "lanes::rpc", %e, "accepting a connection failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tokio::spawn(refuse(socket, remote, max));
                continue;
            };
            let _ = socket.set_nodelay(true);
            let service = TowerToHyperService::new(make(stop.clone()));
            let stop = stop.clone();
            tokio::spawn(async move {
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(socket), service)
                    .with_upgrades();
                let stopped = stop.shutdown();
                tokio::pin!(conn, stopped);
                let result = tokio::select! {
                    result = &mut conn => result,
                    _ = &mut stopped => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(target: "lanes::rpc", %remote, %e, "connection ended");
                }
                drop(permit);
            });
        }
    });
    handle
}

/// Answers a connection past the limit with 503 and closes it.
async fn refuse(mut socket: TcpStream, remote: SocketAddr, max: u32) {
    tracing::debug!(target: "lanes::rpc", %remote, max, "connection refused: too many connections");
    let body =
        limit_error(&format!("too many connections: the node holds {max} (--max-connections)"));
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        socket.write_all(answer.as_bytes()).await?;
        socket.shutdown().await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), write).await;
}

/// The HTTP middleware that gives a request's body [`RpcLimits::request_timeout`]
/// to arrive, counted from its headers; a slower one is answered 408 with a
/// JSON-RPC error that names the limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyDeadlineLayer(pub(crate) Duration);

impl<S> tower::Layer<S> for BodyDeadlineLayer {
    type Service = BodyDeadline<S>;

    fn layer(&self, inner: S) -> BodyDeadline<S> {
        BodyDeadline { inner, timeout: self.0 }
    }
}

/// See [`BodyDeadlineLayer`].
#[derive(Clone, Debug)]
pub(crate) struct BodyDeadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S, B> tower::Service<HttpRequest<B>> for BodyDeadline<S>
where
    S: tower::Service<HttpRequest<Timed<B>>, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let late = Arc::new(AtomicBool::new(false));
        let timeout = self.timeout;
        let request = request.map(|body| Timed {
            body: Box::pin(body),
            deadline: Box::pin(tokio::time::sleep(timeout)),
            late: late.clone(),
        });
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            if !late.load(Ordering::Acquire) {
                return Ok(response);
            }
            let message =
                format!("request body not received within {timeout:?} (--request-timeout)");
            let body = limit_error(&message);
            let mut response = HttpResponse::new(body.into());
            *response.status_mut() = hyper::StatusCode::REQUEST_TIMEOUT;
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            Ok(response)
        })
    }
}

/// A request body that fails once its deadline passes.
pub(crate) struct Timed<B> {
    body: Pin<Box<B>>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    late: Arc<AtomicBool>,
}

impl<B> Body for Timed<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = self.body.as_mut().poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.late.store(true, Ordering::Release);
            return Poll::Ready(Some(Err("request body not received in time".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A JSON-RPC -32005 (limit exceeded) answer to no request in particular:
/// what the connection-level limits answer before a request is read.
fn limit_error(message: &str) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32005, "message": message}})
        .to_string()
}
