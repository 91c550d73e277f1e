//! Where test data from other projects lives: `../shared/` beside the
//! checkout (its `fixtures/README.md` names sources and licences). Tests read
//! it in place and never copy it into the project.

use std::path::PathBuf;

/// `../shared/<rel>` beside the checkout, or `None` (with a message naming
/// the folder) when it is absent. With `LANES_REQUIRE_FIXTURES=1`, as
/// `.ci/run` sets, an absent folder fails the test instead.
pub(crate) fn shared(rel: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("shared");
    let dir = root.join(rel);
    if dir.exists() {
        return Some(dir);
    }
    let why = format!(
        "{} is absent: it holds test data from other projects, kept beside the checkout (../shared)",
        dir.display()
    );
    assert!(std::env::var_os("LANES_REQUIRE_FIXTURES").is_none_or(|v| v != "1"), "{why}");
    eprintln!("skipped: {why}");
    None
}
