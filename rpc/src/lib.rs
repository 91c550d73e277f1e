//! lanes' JSON-RPC API, shared by the node (`lanes-node`), the load
//! generator (`lanes-loadgen`) and embedders. It knows no executor: the
//! genesis format and chain specs are `lanes_eth::genesis`.
//!
//! ```text
//!  api/         the #[rpc(server, client)] traits, one file per namespace:
//!               the node implements the …Server traits, any jsonrpsee
//!               client (such as client::RpcClient) gets the …Client ones
//!  types.rs     the typed lanes_* answers
//!  explorer.rs  the typed answers the explorer page draws from
//!  client.rs    a JSON-RPC client over one keep-alive HTTP/1.1 connection
//! ```
//!
//! ## Layers
//!
//! `client` and `types` at the bottom, `explorer` on `types`; `api/` above them, one
//! namespace's trait per file (a test in `tests/it/layout.rs` keeps the
//! crate's modules free of import cycles).
#![forbid(unsafe_code)]

pub mod api;
pub mod block_param;
pub mod client;
pub mod explorer;
pub mod types;

/// Parses a command-line duration: `400ms`, `2s` or `2` (seconds), `5m`, above zero.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 =
        digits.parse().map_err(|_| format!("`{s}` is not a duration like 400ms, 2s or 5m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(format!("`{s}`: unit must be ms, s or m")),
    };
    if d.is_zero() {
        return Err(format!("`{s}`: a duration must be above zero"));
    }
    Ok(d)
}
