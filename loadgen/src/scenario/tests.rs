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
    assert_eq!((fuzz[0].min, fuzz[0].max), (U256::ZERO, U256::from(0x20)));
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
            "[[spam]]\n[spam.tx]\nto = \"{token}\"\nsignature = \"f(address a)\"\nargs = [\"{_sender}\"]\nfuzz = [{ param = \"a\" }]\n",
            10,
            "spam[0].tx.fuzz[0]",
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
