//! The RPC middleware of a forked node ([`ForkProxy`]): what is the
//! upstream's — blocks at or below the fork block, their transactions,
//! receipts and logs, state before it — is answered by the upstream, as it
//! answers it; the rest by the node.
//!
//! ```text
//!  by number  block ≤ N, "earliest"          -> upstream
//!  state at   block < N, "earliest"          -> upstream (N and later: local)
//!  by hash    the fork block's hash           -> upstream
//!             a hash the node does not know   -> local, then upstream
//!  eth_getLogs across N                       -> upstream ≤ N ++ local > N
//! ```

use std::future::Future;
use std::sync::Arc;

use jsonrpsee::server::middleware::rpc::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::{MethodResponse, ResponsePayload};
use jsonrpsee::types::{ErrorObjectOwned, Id, Request};
use serde_json::Value;
use serde_json::value::RawValue;

use super::Upstream;

/// Where a call is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Local,
    Upstream,
    /// Locally, unless the node does not know what it names.
    LocalThenUpstream,
    /// `eth_getLogs` over blocks on both sides of the fork.
    SplitLogs,
    /// A block by tag: the node's, unless it is the fork block (a fork with
    /// no block of its own yet), which the upstream has.
    HeadBlock,
}

/// Where a forked node's calls go: the upstream and the fork block.
#[derive(Debug)]
pub(crate) struct ForkRoute {
    pub(crate) upstream: Arc<Upstream>,
    pub(crate) number: u64,
    pub(crate) hash: alloy_primitives::B256,
}

impl ForkRoute {
    /// The route to `fork`.
    pub(crate) fn to(fork: &super::Fork) -> Arc<Self> {
        Arc::new(Self {
            upstream: fork.upstream.clone(),
            number: fork.number(),
            hash: fork.info.at.hash,
        })
    }
}

/// The fork a node runs now, if any: set again when `anvil_reset` switches
/// the node to another chain.
#[derive(Debug, Default)]
pub(crate) struct Routes(parking_lot::RwLock<Option<Arc<ForkRoute>>>);

impl Routes {
    pub(crate) fn new(route: Option<Arc<ForkRoute>>) -> Self {
        Self(parking_lot::RwLock::new(route))
    }

    pub(crate) fn set(&self, route: Option<Arc<ForkRoute>>) {
        *self.0.write() = route;
    }

    fn get(&self) -> Option<Arc<ForkRoute>> {
        self.0.read().clone()
    }
}

/// The middleware around the server's RPC service `S`; while the node runs
/// no fork it passes every call through.
#[derive(Clone, Debug)]
pub(crate) struct ForkProxy<S> {
    inner: S,
    routes: Arc<Routes>,
    max_response_bytes: usize,
}

impl<S> ForkProxy<S> {
    pub(crate) fn new(inner: S, routes: Arc<Routes>, max_response_bytes: u32) -> Self {
        Self { inner, routes, max_response_bytes: max_response_bytes as usize }
    }
}

/// A block parameter: a number, a tag or an EIP-1898 object.
fn block_number(v: &Value) -> Option<BlockParam> {
    let v = match v {
        Value::Object(o) => o.get("blockNumber")?,
        v => v,
    };
    match v.as_str()? {
        "earliest" => Some(BlockParam::Number(0)),
        "latest" | "pending" | "safe" | "finalized" => Some(BlockParam::Head),
        s => {
            let hex = s.strip_prefix("0x")?;
            u64::from_str_radix(hex, 16).ok().map(BlockParam::Number)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockParam {
    Number(u64),
    Head,
}

impl ForkRoute {
    /// Where `method` with `params` is answered.
    fn route(&self, method: &str, params: &[Value]) -> Route {
        let n = self.number;
        let at = |i: usize| params.get(i).and_then(block_number);
        let is_fork_hash = |i: usize| {
            params.get(i).and_then(|v| v.as_str()).and_then(|s| s.parse().ok()) == Some(self.hash)
        };
        match method {
            "eth_getBlockByNumber"
            | "eth_getHeaderByNumber"
            | "eth_getBlockTransactionCountByNumber"
            | "eth_getUncleCountByBlockNumber"
            | "eth_getTransactionByBlockNumberAndIndex"
            | "eth_getRawTransactionByBlockNumberAndIndex"
            | "eth_getUncleByBlockNumberAndIndex"
            | "eth_getBlockReceipts"
            | "trace_block"
            | "debug_traceBlockByNumber"
            | "ots_getBlockDetails"
            | "ots_getBlockTransactions" => match at(0) {
                Some(BlockParam::Number(b)) if b <= n => Route::Upstream,
                Some(_) => Route::HeadBlock,
                // A block hash (eth_getBlockReceipts).
                None if is_fork_hash(0) => Route::Upstream,
                None => Route::LocalThenUpstream,
            },
            "eth_getBalance"
            | "eth_getTransactionCount"
            | "eth_getCode"
            | "eth_call"
            | "eth_estimateGas"
            | "eth_createAccessList"
            | "debug_traceCall" => match at(1) {
                Some(BlockParam::Number(b)) if b < n => Route::Upstream,
                _ => Route::Local,
            },
            "eth_getStorageAt" | "eth_getProof" => match at(2) {
                Some(BlockParam::Number(b)) if b < n => Route::Upstream,
                _ => Route::Local,
            },
            "eth_getBlockByHash"
            | "eth_getHeaderByHash"
            | "eth_getBlockTransactionCountByHash"
            | "eth_getUncleCountByBlockHash"
            | "eth_getTransactionByBlockHashAndIndex"
            | "eth_getRawTransactionByBlockHashAndIndex"
            | "eth_getUncleByBlockHashAndIndex"
            | "debug_traceBlockByHash" => {
                if is_fork_hash(0) {
                    Route::Upstream
                } else {
                    Route::LocalThenUpstream
                }
            }
            "eth_getTransactionByHash"
            | "eth_getRawTransactionByHash"
            | "eth_getTransactionReceipt"
            | "debug_traceTransaction"
            | "trace_transaction"
            | "trace_replayTransaction"
            | "ots_getTransactionError"
            | "ots_traceTransaction" => Route::LocalThenUpstream,
            "eth_getLogs" => {
                let Some(filter) = params.first() else { return Route::Local };
                if filter.get("blockHash").is_some_and(|h| !h.is_null()) {
                    return if filter["blockHash"].as_str().and_then(|s| s.parse().ok())
                        == Some(self.hash)
                    {
                        Route::Upstream
                    } else {
                        Route::LocalThenUpstream
                    };
                }
                let bound = |name: &str| match filter.get(name) {
                    None | Some(Value::Null) => Some(BlockParam::Head),
                    Some(v) => block_number(v),
                };
                match (bound("fromBlock"), bound("toBlock")) {
                    (Some(BlockParam::Number(from)), Some(BlockParam::Number(to)))
                        if from <= n && to <= n =>
                    {
                        Route::Upstream
                    }
                    (Some(BlockParam::Number(from)), _) if from <= n => Route::SplitLogs,
                    _ => Route::Local,
                }
            }
            _ => Route::Local,
        }
    }
}

impl<S> RpcServiceT for ForkProxy<S>
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
        let fork = self.routes.get();
        let max = self.max_response_bytes;
        async move {
            let Some(fork) = fork else { return inner.call(request).await };
            let params: Vec<Value> = request
                .params
                .as_ref()
                .and_then(|p| serde_json::from_str(p.get()).ok())
                .unwrap_or_default();
            let method = request.method_name().to_owned();
            let id = request.id().into_owned();
            match fork.route(&method, &params) {
                Route::Local => inner.call(request).await,
                Route::Upstream => forward(&fork, &method, params, id, max).await,
                Route::LocalThenUpstream => {
                    let local = inner.call(request).await;
                    if local.is_error() || result_of(&local).is_none_or(|r| r.is_null()) {
                        forward(&fork, &method, params, id, max).await
                    } else {
                        local
                    }
                }
                Route::SplitLogs => split_logs(&inner, &fork, request, params, id, max).await,
                Route::HeadBlock => {
                    let local = inner.call(request).await;
                    let number = result_of(&local).and_then(|r| block_number(&r["number"]));
                    if number == Some(BlockParam::Number(fork.number)) {
                        let mut params = params;
                        params[0] = Value::String(format!("0x{:x}", fork.number));
                        forward(&fork, &method, params, id, max).await
                    } else {
                        local
                    }
                }
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

/// The `result` of a successful answer.
fn result_of(response: &MethodResponse) -> Option<Value> {
    let answer: Value = serde_json::from_str(response.as_json().get()).ok()?;
    answer.get("result").cloned()
}

/// `method` answered by the upstream, its error passed on as it gave it.
async fn forward(
    fork: &ForkRoute,
    method: &str,
    params: Vec<Value>,
    id: Id<'static>,
    max: usize,
) -> MethodResponse {
    match fork.upstream.forward(method, Value::Array(params)).await {
        Ok(answer) => answered(answer, id, max),
        Err(e) => {
            MethodResponse::error(id, ErrorObjectOwned::owned(-32000, e.to_string(), None::<()>))
        }
    }
}

/// An upstream's answer object as this node's answer.
fn answered(answer: Value, id: Id<'static>, max: usize) -> MethodResponse {
    match answer.get("error").filter(|e| !e.is_null()) {
        Some(error) => {
            let code = error["code"].as_i64().and_then(|c| i32::try_from(c).ok()).unwrap_or(-32000);
            let message = error["message"].as_str().unwrap_or("upstream error").to_owned();
            let data = error.get("data").cloned();
            MethodResponse::error(id, ErrorObjectOwned::owned(code, message, data))
        }
        None => {
            let result = answer.get("result").cloned().unwrap_or(Value::Null);
            MethodResponse::response(id, ResponsePayload::success(result), max)
        }
    }
}

/// `eth_getLogs` from a block at or below the fork to one after it: the
/// upstream's logs up to the fork block, then the node's.
async fn split_logs<S>(
    inner: &S,
    fork: &ForkRoute,
    request: Request<'_>,
    params: Vec<Value>,
    id: Id<'static>,
    max: usize,
) -> MethodResponse
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync,
{
    let mut older = params.clone();
    let mut newer = params;
    older[0]["toBlock"] = Value::String(format!("0x{:x}", fork.number));
    newer[0]["fromBlock"] = Value::String(format!("0x{:x}", fork.number + 1));
    let raw = RawValue::from_string(Value::Array(newer).to_string()).expect("JSON is JSON");
    let mut local = Request::owned(request.method_name().to_owned(), Some(raw), id.clone());
    local.extensions = request.extensions().clone();
    let local = inner.call(local).await;
    if local.is_error() {
        return local;
    }
    let upstream = match fork.upstream.forward("eth_getLogs", Value::Array(older)).await {
        Ok(answer) if answer.get("error").is_some_and(|e| !e.is_null()) => {
            return answered(answer, id, max);
        }
        Ok(answer) => answer.get("result").cloned().unwrap_or(Value::Null),
        Err(e) => {
            return MethodResponse::error(
                id,
                ErrorObjectOwned::owned(-32000, e.to_string(), None::<()>),
            );
        }
    };
    let mut logs = match upstream {
        Value::Array(logs) => logs,
        _ => Vec::new(),
    };
    if let Some(Value::Array(ours)) = result_of(&local) {
        logs.extend(ours);
    }
    MethodResponse::response(id, ResponsePayload::success(Value::Array(logs)), max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn test_routes() {
        let upstream = Arc::new(Upstream::new("http://127.0.0.1:1", Default::default()).unwrap());
        let hash = alloy_primitives::B256::repeat_byte(7);
        let fork = ForkRoute { upstream, number: 10, hash };
        let route = |m: &str, p: Value| fork.route(m, p.as_array().unwrap());
        assert_eq!(route("eth_getBlockByNumber", json!(["0xa", false])), Route::Upstream);
        assert_eq!(route("eth_getBlockByNumber", json!(["earliest", false])), Route::Upstream);
        assert_eq!(route("eth_getBlockByNumber", json!(["0xb", false])), Route::HeadBlock);
        assert_eq!(route("eth_getBlockByNumber", json!(["latest", false])), Route::HeadBlock);
        assert_eq!(route("eth_getBalance", json!(["0x00", "0x9"])), Route::Upstream);
        assert_eq!(route("eth_getBalance", json!(["0x00", "0xa"])), Route::Local);
        assert_eq!(
            route("eth_getBalance", json!(["0x00", {"blockNumber": "0x1"}])),
            Route::Upstream
        );
        assert_eq!(route("eth_getStorageAt", json!(["0x00", "0x0", "0x9"])), Route::Upstream);
        assert_eq!(route("eth_getBlockByHash", json!([hash, false])), Route::Upstream);
        let other = alloy_primitives::B256::repeat_byte(8);
        assert_eq!(route("eth_getBlockByHash", json!([other, false])), Route::LocalThenUpstream);
        assert_eq!(route("eth_getTransactionReceipt", json!([other])), Route::LocalThenUpstream);
        assert_eq!(
            route("eth_getLogs", json!([{"fromBlock": "0x1", "toBlock": "0xa"}])),
            Route::Upstream
        );
        assert_eq!(route("eth_getLogs", json!([{"fromBlock": "0x1"}])), Route::SplitLogs);
        assert_eq!(
            route("eth_getLogs", json!([{"fromBlock": "earliest", "toBlock": "0xc"}])),
            Route::SplitLogs
        );
        assert_eq!(route("eth_getLogs", json!([{"fromBlock": "0xb"}])), Route::Local);
        assert_eq!(route("eth_getLogs", json!([{}])), Route::Local);
        assert_eq!(route("eth_getLogs", json!([{"blockHash": hash}])), Route::Upstream);
        assert_eq!(route("eth_chainId", json!([])), Route::Local);
    }
}
