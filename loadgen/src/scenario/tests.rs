//! Reading scenario files: contender's own, and errors that name the line.
use super::*;

/// `../shared/fixtures/contender` beside the checkout, or `None` (said)
/// when absent; with `LANES_REQUIRE_FIXTURES=1` an absent folder fails.
fn contender_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/contender");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("LANES_REQUIRE_FIXTURES").as_deref() != Ok("1"),
        "{} is absent and LANES_REQUIRE_FIXTURES=1",
        dir.display()
    );
    println!("skipped: {} is absent", dir.display());
    None
}

#[test]
fn test_contenders_scenarios_load_as_they_stand() {
    let Some(dir) = contender_dir() else { return };
    // (file, creates, setup calls, spam steps, pools)
    let expected = [
        ("simpler.toml", 0, 0, 1, 1),
        ("simple.toml", 1, 0, 1, 1),
        ("slotContention.toml", 1, 1, 2, 1),
        ("stress.toml", 1, 0, 4, 4),
        ("uniV2.toml", 6, 6, 2, 1),
    ];
    for (name, creates, setup, spam, pools) in expected {
        let s = Scenario::load(&dir.join(name), &[]).unwrap_or_else(|e| panic!("{e}"));
        let counts = (s.creates.len(), s.setup.len(), s.spam.len(), s.pools.len());
        assert_eq!(counts, (creates, setup, spam, pools), "{name}");
    }
    let uni = Scenario::load(&dir.join("uniV2.toml"), &[]).unwrap();
    assert_eq!(uni.creates[1].name, "testToken");
    assert_eq!(uni.spam[0].0.label, "uniswap_v2_swap_testToken-testToken2");
    assert!(uni.setup.iter().all(|c| c.from == From::Funder), "setup from the funder");
    let slots = Scenario::load(&dir.join("slotContention.toml"), &[]).unwrap();
    let fuzz = &slots.spam[0].0.fuzz;
    assert_eq!(fuzz.len(), 4);
    assert!(matches!(fuzz[0].target, FuzzTarget::Arg(0)));
    assert!(
        matches!(fuzz[0].range, FuzzRange::Unsigned(min, max) if min.is_zero() && max == U256::from(0x20))
    );
    // An env override reaches the constructor's argument.
    let over = [("initialSupply".to_string(), "not a number".to_string())];
    let e = Scenario::load(&dir.join("uniV2.toml"), &over).unwrap_err().to_string();
    assert!(e.contains("create[1].args[0]") && e.contains("not a uint256"), "{e}");
}

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn test_a_wrong_step_is_named_by_file_line_and_field() {
    let head = "[[create]]\nname = \"token\"\nbytecode = \"0x6000\"\n\n";
    let cases = [
        // (body, line, what the message names)
        ("[[spam]]\n[spam.tx]\nto = \"{pair}\"\n", 7, "spam[0].tx.to"),
        (
            "[[spam]]\n[spam.tx]\nto = \"{token}\"\nsignature = \"f(uint256 a)\"\nargs = [\"x\"]\n",
            9,
            "spam[0].tx.args[0]",
        ),
        (
            "[[spam]]\n[spam.tx]\nto = \"{token}\"\nsignature = \"f(uint256 a)\"\n",
            6,
            "spam[0].tx.args",
        ),
        (
            "[[spam]]\n[spam.tx]\nto = \"{token}\"\nsignature = \"f(uint25 a)\"\n",
            8,
            "spam[0].tx.signature",
        ),
        ("[[spam]]\n[spam.bundle]\ntx = []\n", 6, "spam[0].bundle"),
        ("[[spam]]\nweight = 0\n[spam.tx]\nto = \"{token}\"\n", 6, "spam[0].weight"),
        (
            "[[spam]]\n[spam.tx]\nto = \"{token}\"\nsignature = \"f(bytes a)\"\nargs = [\"0x\"]\nfuzz = [{ param = \"a\" }]\n",
            10,
            "spam[0].tx.fuzz[0]",
        ),
        (
            "[[spam]]\n[spam.tx]\nto = \"{token}\"\nkind = \"groth16-verifyProof\"\n",
            8,
            "spam[0].tx.kind",
        ),
        (
            "[[setup]]\nto = \"{token}\"\nfor_all_accounts = true\n[[spam]]\n[spam.tx]\nto = \"{token}\"\n",
            7,
            "setup[0].for_all_accounts",
        ),
        (
            "[[spam]]\n[spam.tx]\nto = \"{token}\"\nauthorization_address = \"{token}\"\nblob_data = \"x\"\n",
            6,
            "spam[0].tx",
        ),
        (
            "[[spam]]\n[spam.tx]\nto = \"{token}\"\naccess_list = [{ address = \"{nowhere}\" }]\n",
            8,
            "spam[0].tx.access_list[0].address",
        ),
        ("[[spam]]\n[spam.tx]\nto = \"{token}\"\nvalue = \"1 btc\"\n", 8, "spam[0].tx.value"),
    ];
    for (body, line, field) in cases {
        let (_dir, path) = write(&format!("{head}{body}"));
        let e = Scenario::load(&path, &[]).unwrap_err().to_string();
        let at = format!("{}:{line}: {field}:", path.display());
        assert!(e.starts_with(&at), "expected `{at}`, got `{e}`");
    }
    // A misspelt field is toml's error, with its line.
    let (_dir, path) =
        write(&format!("{head}[[spam]]\n[spam.tx]\nto = \"{{token}}\"\nsignatur = \"f()\"\n"));
    let e = Scenario::load(&path, &[]).unwrap_err().to_string();
    assert!(e.contains("line 8") && e.contains("signatur"), "{e}");
    // Nothing to send.
    let (_dir, path) = write(head);
    let e = Scenario::load(&path, &[]).unwrap_err().to_string();
    assert!(e.contains("sends nothing"), "{e}");
}

#[test]
fn test_lanes_additions_weights_artifacts_and_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("Token.json");
    std::fs::write(&artifact, r#"{"bytecode": {"object": "0x6080"}}"#).unwrap();
    let path = dir.path().join("mix.toml");
    std::fs::write(
        &path,
        r#"
[[create]]
name = "token"
artifact = "Token.json"

[[spam]]
weight = 3
[spam.tx]
to = "{_account}"
value = "1 gwei"

[[spam]]
[spam.tx]
to = "{token}"
from_pool = "traders"
signature = "transfer(address to, uint256 amount)"
args = ["{_account}", "{_seq}"]
"#,
    )
    .unwrap();
    let s = Scenario::load(&path, &[]).unwrap();
    assert_eq!(s.name, "mix");
    assert_eq!(s.pools, ["", "traders"]);
    assert_eq!(s.spam.iter().map(|(_, w)| *w).collect::<Vec<_>>(), [3, 1]);
    assert_eq!(s.spam[0].0.label, "transfer");
    assert_eq!(s.spam[1].0.from, From::Pool(1));
    assert_eq!(
        s.creates[0].code.render(&dummy_values(0)),
        "0x6080",
        "the artifact's creation code"
    );
}

/// contender's fields beyond the first five files': declared access,
/// EIP-7702 authorizations, blobs, signed and address fuzzing, tips, a pool
/// that deploys, senders from env values and linked-library bytecode.
#[test]
fn test_contenders_whole_call_format_reads() {
    let (_dir, path) = write(
        r#"
[env]
admin = "0x00000000000000000000000000000000000000aa"

[[create]]
name = "lib"
bytecode = "0x6000"

[[create]]
name = "user"
bytecode = "0x73{lib}50"
from_pool = "deployers"

[[setup]]
to = "{user}"
from = "{admin}"
from_pool_is_not_here = false
"#,
    );
    let e = Scenario::load(&path, &[]).unwrap_err().to_string();
    assert!(e.contains("from_pool_is_not_here"), "an unknown field is refused: {e}");
    let (_dir, path) = write(
        r#"
[env]
admin = "0x00000000000000000000000000000000000000aa"

[[create]]
name = "lib"
bytecode = "0x6000"

[[create]]
name = "user"
bytecode = "0x73{lib}50"
from_pool = "deployers"

[[setup]]
to = "{user}"
from = "{admin}"

[[spam]]
[spam.tx]
to = "{user}"
signature = "f(int256 delta, address who, uint8 small)"
args = ["-5", "{_sender}", "3"]
access_list = [{ address = "{user}", storageKeys = ["0x0000000000000000000000000000000000000000000000000000000000000001"] }]
max_priority_fee_per_gas = "2 gwei"
fuzz = [{ param = "delta", min = "-100", max = "100" }, { param = "who" }, { max_priority_fee_per_gas = true, min = "1", max = "5" }]

[[spam]]
[spam.tx]
to = "{_setCodeSender}"
authorization_address = "{user}"

[[spam]]
[spam.tx]
to = "{_sender}"
blob_data = "hello blobs"
"#,
    );
    let s = Scenario::load(&path, &[]).unwrap();
    assert_eq!(s.creates[1].from, From::Pool(0));
    assert_eq!(s.pools[0], "deployers");
    let lib = Address::repeat_byte(0x11);
    let code = s.creates[1].code.render_code(&dummy_values(1));
    assert_eq!(
        code,
        format!("0x73{}50", alloy_primitives::hex::encode(lib)),
        "linked as 40 digits"
    );
    assert_eq!(s.setup[0].from, From::Address(Address::with_last_byte(0xaa)));
    let call = &s.spam[0].0;
    assert_eq!(call.access_list.len(), 1);
    assert!(matches!(call.fuzz[0].range, FuzzRange::Signed(min, max)
        if min == I256::try_from(-100).unwrap() && max == I256::try_from(100).unwrap()));
    assert!(
        matches!(call.fuzz[1].range, FuzzRange::Unsigned(_, max) if max == (U256::from(1) << 160) - U256::from(1))
    );
    assert!(matches!(call.fuzz[2].target, FuzzTarget::Tip));
    assert!(call.tip.is_some());
    assert!(s.spam[1].0.authorization.is_some());
    assert_eq!(s.spam[2].0.blob.as_ref().map(|b| b.to_vec()), Some(b"hello blobs".to_vec()));
}

#[test]
fn test_weights_share_the_spam_evenly_and_equal_weights_take_turns() {
    let order = prepare::weighted_order(&[5, 3, 2], 1000);
    let count = |s| order.iter().filter(|&&o| o == s).count();
    assert_eq!((count(0), count(1), count(2)), (500, 300, 200));
    // Spread out, not in runs: any ten in a row hold each step by its weight.
    for window in order.windows(10) {
        let c = |s| window.iter().filter(|&&o| o == s).count();
        assert!((4..=6).contains(&c(0)) && (2..=4).contains(&c(1)) && (1..=3).contains(&c(2)));
    }
    assert_eq!(prepare::weighted_order(&[1, 1, 1], 6), [0, 1, 2, 0, 1, 2], "contender's turns");
    assert_eq!(prepare::weighted_order(&[7], 3), [0, 0, 0]);
}
