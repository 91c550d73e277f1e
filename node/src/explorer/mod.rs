//! The explorer: one self-contained page served on the RPC port under
//! `/explorer` (`ExplorerLayer`), drawn in the browser from the node's
//! public JSON-RPC (`eth_*`, `ots_*`, `lanes_*`, `eth_subscribe`), and the
//! verified sources it decodes calls and logs with ([`abis`]).
//!
//! The page's script and styles are built into the binary and inlined in
//! its HTML; its Content-Security-Policy lets it reach nothing but the node
//! itself. Every view has a path of its own (`/explorer/block/<n>`,
//! `/explorer/tx/<hash>`, `/explorer/address/<address>`), each answered with
//! the same page, which reads the path.

pub mod abis;

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpRequest, HttpResponse};

/// The path the page is served under.
pub const EXPLORER_PATH: &str = "/explorer";

const HTML: &str = include_str!("page/index.html");
const CSS: &str = include_str!("page/style.css");
const JS: &str = include_str!("page/app.js");

/// The page: the HTML with its styles and script inlined.
pub static PAGE: LazyLock<String> =
    LazyLock::new(|| HTML.replacen("/*STYLE*/", CSS, 1).replacen("/*SCRIPT*/", JS, 1));

/// Nothing but the node: inline script and styles, JSON-RPC and its
/// WebSocket on the page's own origin.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
     img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The HTTP middleware answering `GET /explorer…` with the page; every
/// other request goes on to JSON-RPC.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExplorerLayer;

impl<S> tower::Layer<S> for ExplorerLayer {
    type Service = Explorer<S>;

    fn layer(&self, inner: S) -> Explorer<S> {
        Explorer { inner }
    }
}

/// See [`ExplorerLayer`].
#[derive(Clone, Debug)]
pub(crate) struct Explorer<S> {
    inner: S,
}

impl<S, B> tower::Service<HttpRequest<B>> for Explorer<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let path = request.uri().path();
        let ours = path == EXPLORER_PATH
            || path.strip_prefix(EXPLORER_PATH).is_some_and(|rest| rest.starts_with('/'));
        let method = request.method();
        if !ours || !(method == hyper::Method::GET || method == hyper::Method::HEAD) {
            return Box::pin(self.inner.call(request));
        }
        let head = method == hyper::Method::HEAD;
        Box::pin(async move { Ok(page_response(head)) })
    }
}

fn page_response(head: bool) -> HttpResponse {
    use hyper::header::{self, HeaderValue};
    let body = if head { String::new() } else { PAGE.clone() };
    let mut response = HttpResponse::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(PAGE.len()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
