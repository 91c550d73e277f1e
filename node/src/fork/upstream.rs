//! The upstream of a forked chain ([`Upstream`]): JSON-RPC calls to the node
//! it forks, within limits — a request budget, a number of requests in
//! flight, a time per request, retries with backoff — from any thread, on a
//! runtime of its own, so a slow upstream holds only the callers that wait
//! for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use lanes_rpc::client::RpcClient;
use parking_lot::RwLock;
use serde_json::{Value, json};

/// Default time one request to the upstream may take (anvil's `--timeout`).
pub const DEFAULT_FORK_TIMEOUT: Duration = Duration::from_secs(45);
/// Default tries after a failed request (anvil's `--retries`).
pub const DEFAULT_FORK_RETRIES: u32 = 5;
/// Default wait before the first retry, doubled at each (anvil's
/// `--fork-retry-backoff`).
pub const DEFAULT_FORK_BACKOFF: Duration = Duration::from_millis(100);
/// Default requests in flight to the upstream at once.
pub const DEFAULT_FORK_CONCURRENCY: usize = 8;

/// The limits on what a forked node asks of its upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Longest one request may take before it is tried again.
    pub timeout: Duration,
    /// Tries after a failed request.
    pub retries: u32,
    /// Wait before the first retry, doubled at each.
    pub backoff: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Most requests in all (`None`: no limit); past it a fetch fails
    /// naming the limit.
    pub budget: Option<u64>,
}

impl Default for UpstreamLimits {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_FORK_TIMEOUT,
            retries: DEFAULT_FORK_RETRIES,
            backoff: DEFAULT_FORK_BACKOFF,
            concurrency: DEFAULT_FORK_CONCURRENCY,
            budget: None,
        }
    }
}

/// A call the upstream did not answer, named by the upstream and method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fork upstream {url}: {method}: {why}")]
pub struct UpstreamError {
    /// The upstream's URL.
    pub url: String,
    /// The method (the first of a batch).
    pub method: String,
    /// What went wrong.
    pub why: String,
}

/// How many requests the upstream was sent and answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamCounts {
    /// HTTP requests sent (a batch is one), tries included.
    pub requests: u64,
    /// Calls made (each of a batch counts).
    pub calls: u64,
    /// Requests that failed and were tried again.
    pub retries: u64,
}

/// The forked node's upstream.
pub struct Upstream {
    url: RwLock<String>,
    limits: UpstreamLimits,
    /// Taken on drop, which may happen on another runtime's thread.
    runtime: Option<tokio::runtime::Runtime>,
    clients: tokio::sync::Mutex<Vec<Arc<RpcClient>>>,
    permits: Arc<tokio::sync::Semaphore>,
    next: AtomicUsize,
    requests: AtomicU64,
    calls: AtomicU64,
    retries: AtomicU64,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("url", &*self.url.read()).finish_non_exhaustive()
    }
}

impl Upstream {
    /// An upstream at `url` (`http://host:port[/path]`).
    pub fn new(url: &str, limits: UpstreamLimits) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lanes-upstream")
            .enable_all()
            .build()?;
        let concurrency = limits.concurrency.max(1);
        Ok(Self {
            url: RwLock::new(url.to_owned()),
            permits: Arc::new(tokio::sync::Semaphore::new(concurrency)),
            limits,
            runtime: Some(runtime),
            clients: tokio::sync::Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("taken only on drop")
    }

    /// Its URL.
    pub fn url(&self) -> String {
        self.url.read().clone()
    }

    /// Points it at another URL (`anvil_setRpcUrl`): the next requests go
    /// there.
    pub fn set_url(&self, url: &str) {
        *self.url.write() = url.to_owned();
        self.runtime().block_on_or_wait(async { self.clients.lock().await.clear() });
    }

    /// Its limits.
    pub fn limits(&self) -> &UpstreamLimits {
        &self.limits
    }

    /// What it was asked so far.
    pub fn counts(&self) -> UpstreamCounts {
        UpstreamCounts {
            requests: self.requests.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    /// Calls `method` with `params`.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, UpstreamError> {
        let mut answers = self.batch(&[(method, params)])?;
        Ok(answers.pop().unwrap_or(Value::Null))
    }

    /// Calls each of `calls` in one batch request; the results in order.
    pub fn batch(&self, calls: &[(&str, Value)]) -> Result<Vec<Value>, UpstreamError> {
        let answers = self.runtime().block_on_or_wait(self.send(calls))?;
        let mut results = Vec::with_capacity(answers.len());
        for (answer, (method, _)) in answers.into_iter().zip(calls) {
            if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
                let why = format!("error {error}");
                return Err(UpstreamError { url: self.url(), method: (*method).into(), why });
            }
            results.push(answer.get("result").cloned().unwrap_or(Value::Null));
        }
        Ok(results)
    }

    /// Calls `method` with `params` from async code, on the upstream's own
    /// runtime; its answer object as the upstream gave it (`result` or
    /// `error`).
    pub async fn forward(
        self: &Arc<Self>,
        method: &str,
        params: Value,
    ) -> Result<Value, UpstreamError> {
        let this = self.clone();
        let call = (method.to_owned(), params);
        let task = self.runtime().spawn(async move {
            let mut answers = this.send(&[(call.0.as_str(), call.1)]).await?;
            Ok(answers.pop().unwrap_or(Value::Null))
        });
        task.await.map_err(|e| UpstreamError {
            url: self.url(),
            method: method.into(),
            why: format!("the call's task failed: {e}"),
        })?
    }

    /// Sends `calls` as one batch; each call's answer object, in order.
    async fn send(&self, calls: &[(&str, Value)]) -> Result<Vec<Value>, UpstreamError> {
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, (method, params))| {
                json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            })
            .collect();
        let method = calls.first().map_or("", |c| c.0);
        let fail = |why: String| UpstreamError { url: self.url(), method: method.into(), why };
        if let Some(budget) = self.limits.budget
            && self.requests.load(Ordering::Relaxed) >= budget
        {
            return Err(fail(format!(
                "the request budget of {budget} is spent (--fork-request-budget)"
            )));
        }
        self.calls.fetch_add(calls.len() as u64, Ordering::Relaxed);
        let bytes = self.post(Value::Array(body).to_string()).await.map_err(fail)?;
        let answers: Vec<Value> = match serde_json::from_slice(&bytes) {
            Ok(Value::Array(answers)) => answers,
            // A node that answers a batch with one error object.
            Ok(one @ Value::Object(_)) if one.get("error").is_some() => vec![one],
            Ok(other) => return Err(fail(format!("not a JSON-RPC batch answer: {other}"))),
            Err(e) => return Err(fail(format!("not a JSON-RPC batch answer: {e}"))),
        };
        let mut ordered = vec![Value::Null; calls.len()];
        for answer in answers {
            match answer["id"].as_u64().map(|i| i as usize).filter(|i| *i < calls.len()) {
                Some(id) => ordered[id] = answer,
                // An error for the whole batch: every call's.
                None if answer.get("error").is_some() => {
                    ordered.iter_mut().filter(|a| a.is_null()).for_each(|a| *a = answer.clone());
                }
                None => {}
            }
        }
        if let Some(missing) = ordered.iter().position(Value::is_null) {
            let method = calls[missing].0;
            let why = "the batch answer lacks this call's".to_owned();
            return Err(UpstreamError { url: self.url(), method: method.into(), why });
        }
        Ok(ordered)
    }

    /// POSTs `body`, trying again after a failure or a time-out.
    async fn post(&self, body: String) -> Result<hyper::body::Bytes, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        let mut wait = self.limits.backoff;
        let mut last = String::new();
        for attempt in 0..=self.limits.retries {
            if attempt > 0 {
                self.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let client = match self.client().await {
                Ok(client) => client,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match tokio::time::timeout(self.limits.timeout, client.post(body.clone())).await {
                Ok(Ok(bytes)) => return Ok(bytes),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("no answer within {:?} (--timeout)", self.limits.timeout),
            }
        }
        Err(format!("{last} (after {} tries)", self.limits.retries + 1))
    }

    /// A keep-alive connection, round robin over `concurrency` of them.
    async fn client(&self) -> Result<Arc<RpcClient>, String> {
        let mut clients = self.clients.lock().await;
        let n = self.limits.concurrency.max(1);
        let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
        if clients.len() <= i {
            let client = RpcClient::connect(&self.url()).await.map_err(|e| e.to_string())?;
            clients.push(Arc::new(client));
            return Ok(clients.last().expect("pushed").clone());
        }
        Ok(clients[i].clone())
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async context forbids.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs a future on a runtime from any thread and waits for it.
trait BlockOnOrWait {
    fn block_on_or_wait<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send;
}

impl BlockOnOrWait for tokio::runtime::Runtime {
    fn block_on_or_wait<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        match tokio::runtime::Handle::try_current() {
            // On another runtime's worker: let it move its other tasks off
            // this thread while this one waits.
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| {
                    std::thread::scope(|s| {
                        s.spawn(|| self.block_on(future))
                            .join()
                            .expect("the upstream call panicked")
                    })
                })
            }
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| self.block_on(future)).join().expect("the upstream call panicked")
            }),
            Err(_) => self.block_on(future),
        }
    }
}
