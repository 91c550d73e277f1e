//! Strings with `{placeholders}`, split once when the file is read and
//! rendered per transaction.

use alloy_primitives::{Address, U256};

/// What a placeholder names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Var {
    /// A contract of the scenario (its index among the creates).
    Contract(usize),
    /// The transaction's sender.
    Sender,
    /// An account of the sender's pool, drawn per transaction (lanes).
    Account,
    /// The transaction's index among the spam (lanes).
    Seq,
    /// The account whose EIP-7702 authorizations the scenario's
    /// `authorization_address` steps carry (contender's set-code signer).
    SetCodeSender,
}

/// The placeholder names lanes reads besides env values and contracts.
pub(crate) const BUILTIN_VARS: [(&str, Var); 4] = [
    ("_sender", Var::Sender),
    ("_account", Var::Account),
    ("_seq", Var::Seq),
    ("_setCodeSender", Var::SetCodeSender),
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

/// A string whose `{NAME}` parts are filled in per transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template(Vec<Part>);

/// What a template's placeholders stand for in one transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Values<'a> {
    pub(crate) contracts: &'a [Address],
    pub(crate) sender: Address,
    pub(crate) account: Address,
    pub(crate) seq: u64,
    pub(crate) set_code_sender: Address,
}

impl Template {
    /// Splits `text`: `{NAME}` is an env value (substituted now), a
    /// contract named before `known_contracts` ends, or a built-in; any
    /// other name is an error naming it.
    pub(crate) fn parse(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        contract: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut text_part = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            text_part.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| format!("`{{` without `}}` in `{text}`"))?;
            let name = &after[..close];
            rest = &after[close + 1..];
            if let Some(value) = env(name) {
                text_part.push_str(&value);
                continue;
            }
            let var = if let Some(i) = contract(name) {
                Var::Contract(i)
            } else if let Some((_, v)) = BUILTIN_VARS.iter().find(|(n, _)| *n == name) {
                v.clone()
            } else {
                return Err(format!(
                    "`{{{name}}}` names no env value, no contract created before this step and no \
                     built-in (_sender, _account, _seq, _setCodeSender)"
                ));
            };
            if !text_part.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text_part)));
            }
            parts.push(Part::Var(var));
        }
        text_part.push_str(rest);
        if !text_part.is_empty() || parts.is_empty() {
            parts.push(Part::Text(text_part));
        }
        Ok(Self(parts))
    }

    /// The string with every placeholder filled in; an address right
    /// after a `0x` the text already has goes in as bare hex (contender's
    /// files write `"0x{Counter}"`).
    pub(crate) fn render(&self, values: &Values<'_>) -> String {
        self.render_with(values, |a| a.to_string(), |a| a.to_string())
    }

    /// Creation code with every placeholder filled in as contender fills
    /// it: a contract's address as 40 hex digits (a linked library's
    /// place), the sender's as a 32-byte word, both without `0x`.
    pub(crate) fn render_code(&self, values: &Values<'_>) -> String {
        let word = |a: Address| format!("{:0>64}", alloy_primitives::hex::encode(a));
        self.render_with(values, alloy_primitives::hex::encode, word)
    }

    fn render_with(
        &self,
        values: &Values<'_>,
        contract: impl Fn(Address) -> String,
        account: impl Fn(Address) -> String,
    ) -> String {
        let mut out = String::new();
        for part in &self.0 {
            let address = match part {
                Part::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Part::Var(Var::Seq) => {
                    out.push_str(&values.seq.to_string());
                    continue;
                }
                Part::Var(Var::Contract(i)) => contract(values.contracts[*i]),
                Part::Var(Var::Sender) => account(values.sender),
                Part::Var(Var::Account) => account(values.account),
                Part::Var(Var::SetCodeSender) => account(values.set_code_sender),
            };
            match address.strip_prefix("0x") {
                Some(bare) if out.ends_with("0x") => out.push_str(bare),
                _ => out.push_str(&address),
            }
        }
        out
    }
}

/// Wei from `1eth`, `1.5 ether`, `2 gwei`, `3 finney`, `1000`, `0x3e8`: a
/// number and any of alloy's units (wei, kwei, mwei, gwei, szabo, finney,
/// ether; `eth` for ether), as contender reads a value.
pub(crate) fn parse_wei(text: &str) -> Result<U256, String> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x") {
        return U256::from_str_radix(hex, 16).map_err(|e| format!("`{text}`: {e}"));
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim().to_ascii_lowercase());
    let unit = match unit.as_str() {
        "" => "wei",
        "eth" => "ether",
        other => other,
    };
    let unit: alloy_primitives::utils::Unit = unit.parse().map_err(|_| {
        format!("`{text}`: the unit must be one of wei, kwei, mwei, gwei, szabo, finney, ether")
    })?;
    alloy_primitives::utils::parse_units(number, unit.get())
        .map(Into::into)
        .map_err(|e| format!("`{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_placeholders_fill_in_and_unknown_names_are_named() {
        let env = |n: &str| (n == "supply").then(|| "1000".to_string());
        let contract = |n: &str| (n == "token").then_some(0);
        let t = Template::parse("{token}:{supply}:{_sender}:{_seq}", &env, &contract).unwrap();
        let token = Address::repeat_byte(1);
        let sender = Address::repeat_byte(2);
        let values = Values {
            contracts: &[token],
            sender,
            account: Address::ZERO,
            seq: 7,
            set_code_sender: Address::ZERO,
        };
        assert_eq!(t.render(&values), format!("{token}:1000:{sender}:7"));
        let prefixed = Template::parse("[(0x{token},0,0xd09de08a)]", &env, &contract).unwrap();
        assert_eq!(prefixed.render(&values), format!("[({token},0,0xd09de08a)]"), "one 0x");
        let e = Template::parse("{pair}", &env, &contract).unwrap_err();
        assert!(e.contains("`{pair}`"), "{e}");
        assert!(Template::parse("{token", &env, &contract).is_err());
        assert_eq!(Template::parse("", &env, &contract).unwrap().render(&values), "");
    }

    #[test]
    fn test_wei_units() {
        assert_eq!(parse_wei("1eth").unwrap(), U256::from(10u128.pow(18)));
        assert_eq!(parse_wei("1.5 ether").unwrap(), U256::from(15 * 10u128.pow(17)));
        assert_eq!(parse_wei("2 gwei").unwrap(), U256::from(2_000_000_000u64));
        assert_eq!(parse_wei("1000").unwrap(), U256::from(1000));
        assert_eq!(parse_wei("0x3e8").unwrap(), U256::from(1000));
        assert_eq!(parse_wei("3 finney").unwrap(), U256::from(3 * 10u128.pow(15)));
        assert!(parse_wei("1 btc").is_err());
    }
}
