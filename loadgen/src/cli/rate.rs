//! `--rate`: one rate, or a ramp's range.

/// A rate in transactions per second, or a ramp from one to another.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rate {
    Fixed(f64),
    Ramp(f64, f64),
}

/// Reads `--rate`: `R` or `FROM..TO`, above zero, a ramp rising.
pub(crate) fn parse_rate(s: &str) -> Result<Rate, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0)
            .ok_or_else(|| format!("`{t}` is not a rate above zero"))
    };
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("`{s}`: the ramp must rise"));
            }
            Ok(Rate::Ramp(a, b))
        }
        None => number(s).map(Rate::Fixed),
    }
}
