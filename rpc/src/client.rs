//! A JSON-RPC client over one keep-alive HTTP/1.1 connection (hyper), with
//! batches. Plain `http://` only: the load generator talks to nodes on
//! loopback or a private network.
//!
//! [`RpcClient`] implements jsonrpsee's [`ClientT`], so the typed clients of
//! the node's API ([`crate::api`]) call through it, and it keeps
//! its hand-built batches of raw transactions ([`RpcClient::send_raw_batch`])
//! for the timed phase, where no per-call serde value is built.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use jsonrpsee::core::client::{BatchResponse, ClientT, Error as JsonRpcError};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::types::ErrorObjectOwned;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Largest response body read (a block of receipts can be large).
const MAX_RESPONSE_BYTES: usize = 512 * 1024 * 1024;

/// An error object a node answered with.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RpcErrorObject {
    /// JSON-RPC error code.
    pub code: i64,
    /// The node's message.
    pub message: String,
}

impl std::fmt::Display for RpcErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not one this client speaks.
    #[error("bad URL {0}: expected http://HOST:PORT[/PATH]")]
    Url(String),
    /// Connecting or talking HTTP failed.
    #[error("{url}: {what}")]
    Transport {
        /// The node.
        url: String,
        /// What failed.
        what: String,
    },
    /// The node answered with an error.
    #[error("{method}: {error}")]
    Rpc {
        /// The method called.
        method: String,
        /// The node's error.
        error: RpcErrorObject,
    },
    /// The answer was not what the method returns.
    #[error("{method}: unexpected answer: {what}")]
    Decode {
        /// The method called.
        method: String,
        /// What was wrong.
        what: String,
    },
}

#[derive(Deserialize)]
struct Response {
    id: Option<u64>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<RpcErrorObject>,
}

/// One keep-alive connection to a node.
pub struct RpcClient {
    url: String,
    host: String,
    path: String,
    /// Held from a request's send to its answer: HTTP/1.1 carries one at a
    /// time.
    sender: Mutex<Option<SendRequest<Full<Bytes>>>>,
    next_id: AtomicU64,
    /// Connections opened (a closed one is reopened by the next call).
    connections: AtomicU64,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient").field("url", &self.url).finish_non_exhaustive()
    }
}

impl RpcClient {
    /// Connects to `url` (`http://host:port[/path]`).
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| ClientError::Url(url.into()))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if host.is_empty() {
            return Err(ClientError::Url(url.into()));
        }
        let host = if host.contains(':') { host.to_string() } else { format!("{host}:80") };
        let client = Self {
            url: url.into(),
            host,
            path: path.into(),
            sender: Mutex::new(None),
            next_id: AtomicU64::new(1),
            connections: AtomicU64::new(0),
        };
        *client.sender.lock().await = Some(client.connect_once().await?);
        Ok(client)
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many connections this client has opened: more than one means
    /// the node closed one (idle, or restarted) and a call reopened it.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    async fn connect_once(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let transport = |what: String| ClientError::Transport { url: self.url.clone(), what };
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&self.host))
            .await
            .map_err(|_| transport("connecting timed out".into()))?
            .map_err(|e| transport(format!("connecting: {e}")))?;
        stream.set_nodelay(true).map_err(|e| transport(format!("TCP_NODELAY: {e}")))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| transport(format!("HTTP handshake: {e}")))?;
        tokio::spawn(connection);
        self.connections.fetch_add(1, Ordering::Relaxed);
        Ok(sender)
    }

    /// POSTs a JSON body and returns the response body. A connection the
    /// node closed is reopened once.
    pub async fn post(&self, body: String) -> Result<Bytes, ClientError> {
        let body = Bytes::from(body);
        let mut sender = self.sender.lock().await;
        for attempt in 0..2 {
            if sender.as_ref().is_none_or(|s| s.is_closed()) {
                *sender = Some(self.connect_once().await?);
            }
            let connection = sender.as_mut().expect("connected above");
            if connection.ready().await.is_err() {
                *sender = None;
                continue;
            }
            let request = hyper::Request::post(self.path.as_str())
                .header(HOST, self.host.as_str())
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()))
                .expect("a valid request");
            match connection.send_request(request).await {
                Ok(response) => {
                    let status = response.status();
                    let bytes =
                        http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                            .collect()
                            .await
                            .map_err(|e| ClientError::Transport {
                                url: self.url.clone(),
                                what: format!("reading the response: {e}"),
                            })?
                            .to_bytes();
                    if !status.is_success() && !bytes.starts_with(b"{") && !bytes.starts_with(b"[")
                    {
                        return Err(ClientError::Transport {
                            url: self.url.clone(),
                            what: format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                            ),
                        });
                    }
                    return Ok(bytes);
                }
                // A keep-alive connection the server closed between requests.
                Err(e)
                    if attempt == 0
                        && (e.is_canceled() || e.is_closed() || e.is_incomplete_message()) =>
                {
                    *sender = None;
                }
                Err(e) => {
                    return Err(ClientError::Transport {
                        url: self.url.clone(),
                        what: format!("sending: {e}"),
                    });
                }
            }
        }
        Err(ClientError::Transport {
            url: self.url.clone(),
            what: "the connection keeps closing".into(),
        })
    }

    /// Calls `method` with `params`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, ClientError> {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let bytes = self.post(body.to_string()).await?;
        let response: Response =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
                method: method.into(),
                what: format!("{e}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(200)])),
            })?;
        decode(method, response)
    }

    /// Calls `method` once per params in one batch; answers in order.
    pub async fn batch<T: DeserializeOwned>(
        &self,
        method: &str,
        params: impl IntoIterator<Item = Value>,
    ) -> Result<Vec<Result<T, ClientError>>, ClientError> {
        let calls: Vec<Value> = params
            .into_iter()
            .enumerate()
            .map(|(id, p)| serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": p}))
            .collect();
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let n = calls.len();
        let bytes = self.post(Value::Array(calls).to_string()).await?;
        let answers = batch_responses(method, &bytes, n)?;
        Ok(answers.into_iter().map(|r| decode(method, r)).collect())
    }

    /// Sends raw transactions (each already `"0x…"`-quoted JSON) in one
    /// batch; per transaction, `Ok` or the node's error.
    pub async fn send_raw_batch(
        &self,
        quoted: &[String],
    ) -> Result<Vec<Result<(), RpcErrorObject>>, ClientError> {
        const METHOD: &str = "eth_sendRawTransaction";
        let mut body = String::with_capacity(quoted.iter().map(|q| q.len() + 80).sum());
        body.push('[');
        for (id, q) in quoted.iter().enumerate() {
            if id > 0 {
                body.push(',');
            }
            body.push_str(r#"{"jsonrpc":"2.0","method":"eth_sendRawTransaction","id":"#);
            body.push_str(&id.to_string());
            body.push_str(r#","params":["#);
            body.push_str(q);
            body.push_str("]}");
        }
        body.push(']');
        let bytes = self.post(body).await?;
        let answers = batch_responses(METHOD, &bytes, quoted.len())?;
        Ok(answers
            .into_iter()
            .map(|r| match r.error {
                Some(e) => Err(e),
                None => Ok(()),
            })
            .collect())
    }
}

/// An error object as a node sends it; `data` kept raw, any other field
/// ignored (jsonrpsee's own type refuses them).
#[derive(Deserialize)]
struct WireError {
    code: i32,
    message: String,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

impl From<WireError> for ErrorObjectOwned {
    fn from(e: WireError) -> Self {
        ErrorObjectOwned::owned(e.code, e.message, e.data)
    }
}

/// One answer, its result left unparsed.
#[derive(Deserialize)]
struct RawAnswer<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<WireError>,
}

impl RawAnswer<'_> {
    fn into_result<R: DeserializeOwned>(self) -> Result<Result<R, ErrorObjectOwned>, JsonRpcError> {
        if let Some(error) = self.error {
            return Ok(Err(error.into()));
        }
        Ok(Ok(serde_json::from_str(self.result.map_or("null", RawValue::get))?))
    }
}

/// A JSON-RPC call object; `params` is `[]` when there are none, as every
/// Ethereum node takes it.
fn call_json(method: &str, id: Option<u64>, params: Option<&RawValue>) -> String {
    let id = id.map(|id| format!(r#","id":{id}"#)).unwrap_or_default();
    let method = Value::from(method);
    let params = params.map_or("[]", RawValue::get);
    format!(r#"{{"jsonrpc":"2.0"{id},"method":{method},"params":{params}}}"#)
}

fn transport(e: ClientError) -> JsonRpcError {
    JsonRpcError::Transport(Box::new(e))
}

/// The typed clients of [`crate::api`] (`LanesApiClient`,
/// `EthApiClient`, ...) call through this.
impl ClientT for RpcClient {
    async fn notification<Params>(&self, method: &str, params: Params) -> Result<(), JsonRpcError>
    where
        Params: ToRpcParams + Send,
    {
        let params = params.to_rpc_params()?;
        self.post(call_json(method, None, params.as_deref())).await.map_err(transport)?;
        Ok(())
    }

    async fn request<R, Params>(&self, method: &str, params: Params) -> Result<R, JsonRpcError>
    where
        R: DeserializeOwned,
        Params: ToRpcParams + Send,
    {
        let params = params.to_rpc_params()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes =
            self.post(call_json(method, Some(id), params.as_deref())).await.map_err(transport)?;
        let answer: RawAnswer<'_> = serde_json::from_slice(&bytes)?;
        Ok(answer.into_result()??)
    }

    async fn batch_request<'a, R>(
        &self,
        batch: BatchRequestBuilder<'a>,
    ) -> Result<BatchResponse<'a, R>, JsonRpcError>
    where
        R: DeserializeOwned + std::fmt::Debug + 'a,
    {
        let calls = batch.build()?;
        let n = calls.len();
        let body: Vec<String> = calls
            .iter()
            .enumerate()
            .map(|(id, (method, params))| call_json(method, Some(id as u64), params.as_deref()))
            .collect();
        let bytes = self.post(format!("[{}]", body.join(","))).await.map_err(transport)?;
        if bytes.starts_with(b"{") {
            // The whole batch was refused (too large, too many calls, ...).
            let answer: RawAnswer<'_> = serde_json::from_slice(&bytes)?;
            let error = answer.error.map(ErrorObjectOwned::from).ok_or_else(|| {
                JsonRpcError::Custom("a single answer to a batch, without an error".into())
            })?;
            return Err(JsonRpcError::Call(error));
        }
        let answers: Vec<RawAnswer<'_>> = serde_json::from_slice(&bytes)?;
        let mut ordered: Vec<Option<RawAnswer<'_>>> = (0..n).map(|_| None).collect();
        for answer in answers {
            let Some(slot) = answer.id.and_then(|id| ordered.get_mut(id as usize)) else {
                return Err(JsonRpcError::Custom("a batch answer with an unknown id".into()));
            };
            *slot = Some(answer);
        }
        let mut entries = Vec::with_capacity(n);
        let mut failed = 0;
        for answer in ordered {
            let answer =
                answer.ok_or_else(|| JsonRpcError::Custom(format!("{n} calls, fewer answers")))?;
            let entry = answer.into_result::<R>()?;
            failed += usize::from(entry.is_err());
            entries.push(entry);
        }
        Ok(BatchResponse::new(n - failed, entries, failed))
    }
}

/// A typed client's error for `method`, as this client reports its own.
pub fn typed_error(method: &str, e: JsonRpcError) -> ClientError {
    match e {
        JsonRpcError::Call(error) => ClientError::Rpc {
            method: method.into(),
            error: RpcErrorObject { code: error.code().into(), message: error.message().into() },
        },
        JsonRpcError::Transport(e) => match e.downcast::<ClientError>() {
            Ok(e) => *e,
            Err(e) => ClientError::Decode { method: method.into(), what: e.to_string() },
        },
        other => ClientError::Decode { method: method.into(), what: other.to_string() },
    }
}

fn decode<T: DeserializeOwned>(method: &str, response: Response) -> Result<T, ClientError> {
    if let Some(error) = response.error {
        return Err(ClientError::Rpc { method: method.into(), error });
    }
    serde_json::from_value(response.result.unwrap_or(Value::Null))
        .map_err(|e| ClientError::Decode { method: method.into(), what: e.to_string() })
}

/// The answers of a batch of `n`, in request order.
fn batch_responses(method: &str, bytes: &[u8], n: usize) -> Result<Vec<Response>, ClientError> {
    let decode_err = |what: String| ClientError::Decode { method: method.into(), what };
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        decode_err(format!("{e}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(200)])))
    })?;
    if let Value::Object(_) = value {
        // The whole batch was refused (too large, too many calls, ...).
        let response: Response =
            serde_json::from_value(value).map_err(|e| decode_err(e.to_string()))?;
        return Err(match response.error {
            Some(error) => ClientError::Rpc { method: format!("batch of {n} {method}"), error },
            None => decode_err("a single answer to a batch".into()),
        });
    }
    let responses: Vec<Response> =
        serde_json::from_value(value).map_err(|e| decode_err(e.to_string()))?;
    let mut ordered: Vec<Option<Response>> = (0..n).map(|_| None).collect();
    for r in responses {
        match r.id.and_then(|id| ordered.get_mut(id as usize)) {
            Some(slot) => *slot = Some(r),
            None => return Err(decode_err("an answer with an unknown id".into())),
        }
    }
    ordered
        .into_iter()
        .map(|r| r.ok_or_else(|| decode_err(format!("{n} calls, fewer answers"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers_are_put_in_request_order() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"nonce too low"}},
                        {"jsonrpc":"2.0","id":0,"result":"0x01"}]"#;
        let answers = batch_responses("m", body, 2).unwrap();
        assert_eq!(answers[0].result, Some(Value::String("0x01".into())));
        assert_eq!(answers[1].error.as_ref().unwrap().code, -32003);
        // A batch refused as a whole, a short answer, an unknown id.
        let refused =
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"too many"}}"#;
        assert!(
            matches!(batch_responses("m", refused, 2), Err(ClientError::Rpc { error, .. }) if error.code == -32005)
        );
        assert!(batch_responses("m", br#"[{"jsonrpc":"2.0","id":0,"result":1}]"#, 2).is_err());
        assert!(batch_responses("m", br#"[{"jsonrpc":"2.0","id":7,"result":1}]"#, 1).is_err());
        assert!(batch_responses("m", b"<html>", 1).is_err());
    }

    #[test]
    fn call_objects_always_carry_params() {
        assert_eq!(
            call_json("eth_chainId", Some(3), None),
            r#"{"jsonrpc":"2.0","id":3,"method":"eth_chainId","params":[]}"#
        );
        let params = RawValue::from_string(r#"["0x1",true]"#.into()).unwrap();
        let body = call_json("m\"", None, Some(&params));
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["method"], "m\"");
        assert!(value.get("id").is_none());
        assert_eq!(value["params"][1], true);
    }

    #[test]
    fn node_errors_keep_code_message_and_data() {
        let answer: RawAnswer<'_> = serde_json::from_str(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted","data":"0x2a","extra":1}}"#,
        )
        .unwrap();
        let error = answer.into_result::<Value>().unwrap().unwrap_err();
        assert_eq!((error.code(), error.message()), (3, "execution reverted"));
        assert_eq!(error.data().unwrap().get(), r#""0x2a""#);
        let e = typed_error("eth_call", JsonRpcError::Call(error));
        assert_eq!(e.to_string(), "eth_call: execution reverted (code 3)");
        let answer: RawAnswer<'_> = serde_json::from_str(r#"{"id":1,"result":null}"#).unwrap();
        assert_eq!(answer.into_result::<Option<u64>>().unwrap().unwrap(), None);
    }

    #[tokio::test]
    async fn urls_other_than_plain_http_are_refused() {
        for url in ["https://127.0.0.1:8545", "ftp://x", "http://", "127.0.0.1:8545"] {
            assert!(matches!(RpcClient::connect(url).await, Err(ClientError::Url(_))), "{url}");
        }
    }
}
