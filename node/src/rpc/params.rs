//! An RPC middleware that keeps lanes' answer to a parameter that does not
//! parse: -32602 with the message `invalid params: <serde's explanation>`.
//!
//! The methods' parameters are parsed by the code jsonrpsee's `#[rpc]` macro
//! generates, which answers -32602 `Invalid params` with the explanation in
//! `data`; clients and tests read the message, so this layer moves the
//! explanation back into it. `eth_unsubscribe` is jsonrpsee's own method and
//! keeps jsonrpsee's answer, as it always had.
//!
//! A subscription's rejection is written to the connection before it comes
//! back through this layer, so `eth_subscribe`'s params are checked here,
//! before the call goes on (see [`Subscription::from_params`]).

use std::future::Future;

use jsonrpsee::server::middleware::rpc::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::types::error::{INTERNAL_ERROR_CODE, INVALID_PARAMS_MSG, METHOD_NOT_FOUND_CODE};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Id, Request};
use serde::Deserialize;

use crate::error::{INVALID_PARAMS, bad_params};
use crate::rpc::pubsub::Subscription;

const SUBSCRIBE: &str = "eth_subscribe";
const UNSUBSCRIBE: &str = "eth_unsubscribe";
/// geth's answer to a subscription call over HTTP.
const NO_NOTIFICATIONS: &str = "notifications not supported";

/// The middleware around the server's RPC service `S`.
#[derive(Clone, Debug)]
pub(crate) struct ParamsErrors<S> {
    inner: S,
    /// The server's response limit, which a batch answer must also keep.
    max_response_bytes: usize,
}

impl<S> ParamsErrors<S> {
    pub(crate) fn new(inner: S, max_response_bytes: u32) -> Self {
        Self { inner, max_response_bytes: max_response_bytes as usize }
    }
}

impl<S> RpcServiceT for ParamsErrors<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type BatchResponse = MethodResponse;
    type NotificationResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        async move {
            let method = request.method_name();
            if method == SUBSCRIBE
                && let Err(e) = Subscription::from_params(&request.params())
            {
                let Request { id, extensions, .. } = request;
                return MethodResponse::error(id, ErrorObjectOwned::from(e))
                    .with_extensions(extensions);
            }
            let keep = method == UNSUBSCRIBE;
            let subscription = keep || method == SUBSCRIBE;
            let method = method.to_owned();
            let response = inner.call(request).await;
            if response.as_error_code() == Some(METHOD_NOT_FOUND_CODE) {
                return unknown_method(response, &method);
            }
            // Over HTTP jsonrpsee answers a subscription call -32603
            // `Internal error`; geth's answer says what is wrong.
            if subscription && response.as_error_code() == Some(INTERNAL_ERROR_CODE) {
                let e =
                    ErrorObjectOwned::owned(METHOD_NOT_FOUND_CODE, NO_NOTIFICATIONS, None::<()>);
                return replaced(response, e);
            }
            if keep { response } else { with_lanes_message(response) }
        }
    }

    /// As jsonrpsee's own service answers a batch, but each call goes
    /// through [`Self::call`], and the calls run concurrently (each starts
    /// in order): a batch of sends under automine then waits for their
    /// blocks together, not one after another.
    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let mut answers = BatchResponseBuilder::new_with_limit(this.max_response_bytes);
            let mut got_notification = false;
            let mut calls = Vec::new();
            for entry in batch {
                match entry {
                    Ok(BatchEntry::Call(request)) => {
                        calls.push(futures_util::future::Either::Left(this.call(request)))
                    }
                    Ok(BatchEntry::Notification(n)) => {
                        got_notification = true;
                        this.notification(n).await;
                    }
                    Err(e) => {
                        let (error, id) = e.into_parts();
                        let answer = MethodResponse::error(id, error);
                        calls.push(futures_util::future::Either::Right(std::future::ready(answer)));
                    }
                }
            }
            for answer in futures_util::future::join_all(calls).await {
                if let Err(too_large) = answers.append(answer) {
                    return too_large;
                }
            }
            if answers.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(answers.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

/// An unknown method's answer in geth's words ("the method X does not
/// exist/is not available"), which ethers matches to fall back from filters
/// to `eth_getLogs`; the code stays -32601.
fn unknown_method(response: MethodResponse, method: &str) -> MethodResponse {
    let message = format!("the method {method} does not exist/is not available");
    replaced(response, ErrorObjectOwned::owned(METHOD_NOT_FOUND_CODE, message, None::<()>))
}

/// `response`, answering `error` instead (its id is only in its JSON).
fn replaced(response: MethodResponse, error: ErrorObjectOwned) -> MethodResponse {
    #[derive(Deserialize)]
    struct Failure<'a> {
        #[serde(borrow)]
        id: Id<'a>,
    }
    match serde_json::from_str::<Failure<'_>>(response.as_json().get()) {
        Ok(f) => MethodResponse::error(f.id.into_owned(), error),
        Err(_) => response,
    }
}

/// jsonrpsee's `Invalid params` answer with lanes' message; any other
/// answer as it is.
fn with_lanes_message(response: MethodResponse) -> MethodResponse {
    #[derive(Deserialize)]
    struct Failure<'a> {
        #[serde(borrow)]
        id: Id<'a>,
        #[serde(borrow)]
        error: ErrorObject<'a>,
    }
    if response.as_error_code() != Some(INVALID_PARAMS) || response.is_subscription() {
        return response;
    }
    let ours = match serde_json::from_str::<Failure<'_>>(response.as_json().get()) {
        Ok(f) if f.error.message() == INVALID_PARAMS_MSG => {
            let error = ErrorObjectOwned::from(bad_params(f.error.into_owned()));
            MethodResponse::error(f.id, error)
        }
        _ => return response,
    };
    let (_, _, extensions) = response.into_parts();
    ours.with_extensions(extensions)
}
