//! lanes: the node behind `lanes-validator` ([`node`]), the load generator
//! behind `lanes-loadgen` ([`loadgen`]), plus the cross-crate tests and
//! benchmarks over the library crates.
//!
//! The node's JSON-RPC is typed per namespace in [`node::rpc::api`]: the
//! node implements the `…Server` traits, and the `…Client` traits work over
//! any jsonrpsee client, such as [`loadgen::client::RpcClient`].
#![forbid(unsafe_code)]

pub mod loadgen;
pub mod node;

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
