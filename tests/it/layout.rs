//! The workspace's shape, as the design states it: the two product crates
//! never depend on each other, no crate's modules import one another in a
//! circle (the banking stage's modules never import `stage.rs`), and no Rust
//! file outgrows 800 lines.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `[dependencies]`-style lines of a manifest that name a lanes crate.
fn lanes_deps(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("lanes-") && l.contains('='))
        .map(|l| l.split(['.', ' ', '=']).next().unwrap().to_owned())
        .collect()
}

#[test]
fn test_product_crates_do_not_depend_on_each_other() {
    let node = lanes_deps(&root().join("node/Cargo.toml"));
    let loadgen = lanes_deps(&root().join("loadgen/Cargo.toml"));
    assert!(node.contains(&"lanes-rpc".to_owned()), "{node:?}");
    assert!(loadgen.contains(&"lanes-rpc".to_owned()), "{loadgen:?}");
    assert!(!node.contains(&"lanes-loadgen".to_owned()), "lanes-node depends on lanes-loadgen");
    assert!(!loadgen.contains(&"lanes-node".to_owned()), "lanes-loadgen depends on lanes-node");
}

#[test]
fn test_banking_stage_modules_do_not_import_the_stage() {
    let src = root().join("banking_stage/src");
    let mut importers = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("use crate::stage") || text.contains("crate::stage::") {
            importers.push(file.strip_prefix(&src).unwrap().display().to_string());
        }
    }
    assert!(importers.is_empty(), "modules importing stage.rs: {importers:?}");
}

#[test]
fn test_no_rust_file_is_over_800_lines() {
    let mut long = Vec::new();
    for dir in [
        "accounts_db",
        "runtime",
        "evm_adapter",
        "eth",
        "banking_stage",
        "consensus",
        "rpc",
        "node",
        "loadgen",
        "src",
        "tests",
        "benches",
        "fuzz",
    ] {
        for file in rust_files(&root().join(dir)) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > 800 {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "over 800 lines: {long:?}");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "corpus" && name != "artifacts" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The crates whose modules must import one another in one direction: each
/// library's `src`, and the load generator binary's folder.
const MODULE_TREES: &[&str] = &[
    "accounts_db/src",
    "runtime/src",
    "evm_adapter/src",
    "eth/src",
    "banking_stage/src",
    "consensus/src",
    "rpc/src",
    "node/src",
    "loadgen/src",
    "fuzz/src",
];

#[test]
fn test_no_crate_has_a_module_import_cycle() {
    let mut cycles = Vec::new();
    for tree in MODULE_TREES {
        for cycle in imports::cycles(&root().join(tree)) {
            cycles.push(format!("{tree}: {cycle}"));
        }
    }
    assert!(cycles.is_empty(), "module import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn test_the_cycle_check_finds_a_cycle_and_ignores_tests_and_re_exports() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    // lib.rs re-exports from `a`, which uses an item of lib.rs: a facade, no
    // cycle. `b`'s test module reaches up into `c`: tests are not layers.
    write("lib.rs", "mod a;\nmod b;\nmod c;\npub use a::A;\npub fn helper() {}\n");
    write("a.rs", "pub struct A;\nfn f() { crate::helper() }\n");
    write("b.rs", "use crate::a::A;\n#[cfg(test)]\nmod tests {\n    use crate::c::C;\n}\n");
    write("c.rs", "use crate::{A, b};\npub struct C(A);\n// crate::c is no use\n");
    assert_eq!(imports::cycles(dir.path()), Vec::<String>::new());
    // An inline path in code that closes a circle: c -> b -> c.
    write("b.rs", "use crate::a::A;\nfn g() -> Option<crate::c::C> { None }\n");
    let cycles = imports::cycles(dir.path());
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].starts_with("b, c:"), "{cycles:?}");
    assert!(cycles[0].contains("b -> c (line 2: crate::c::C)"), "{cycles:?}");
}

#[test]
fn test_the_cycle_check_finds_a_circle_between_a_folder_and_its_sibling() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    // No two files close a circle: db/mod.rs uses rec, rec uses db/inner.rs.
    write("lib.rs", "mod db;\nmod rec;\n");
    write("db/mod.rs", "mod inner;\nfn open() { crate::rec::recover() }\n");
    write("db/inner.rs", "pub struct History;\n");
    write("rec.rs", "pub fn recover() {}\n");
    assert_eq!(imports::cycles(dir.path()), Vec::<String>::new());
    write("rec.rs", "use crate::db::inner::History;\npub fn recover() {}\n");
    let cycles = imports::cycles(dir.path());
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].starts_with("db/, rec:"), "{cycles:?}");
    assert!(
        cycles[0].contains("rec -> db::inner (line 1: crate::db::inner::History)"),
        "{cycles:?}"
    );
}

/// Module imports within one crate, read from its sources: every
/// `use crate::`/`super::`/`self::` path and every such path (or one through a
/// child module) written in code, each resolved to the file module that
/// defines it. A `pub use` is a module's facade, not a use: it is followed to
/// the item's home and is no edge itself. Test code (`#[cfg(test)]` modules
/// and `use` lines) may reach up to build its fixtures and is left out, as
/// `cargo modules` leaves it out unless asked.
mod imports {
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
    use std::path::Path;

    type ModPath = Vec<String>;

    /// One path a module names: where (its file module and the inline
    /// modules it sits in), the segments, the name it is re-exported as
    /// (`pub use`), and the line.
    struct Named {
        module: ModPath,
        inline: Vec<String>,
        segs: Vec<String>,
        export: Option<String>,
        external: bool,
        line: usize,
    }

    /// The crate's import cycles, each as its modules and the edges between
    /// them with the line that makes each (empty when there is none).
    pub(super) fn cycles(src: &Path) -> Vec<String> {
        let mut modules: BTreeMap<ModPath, Vec<char>> = BTreeMap::new();
        for file in super::rust_files(src) {
            let rel = file.strip_prefix(src).unwrap().with_extension("");
            let mut path: ModPath =
                rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            if path.last().is_some_and(|l| l == "lib" || l == "main" || l == "mod") {
                path.pop();
            }
            let text = std::fs::read_to_string(&file).unwrap();
            modules.insert(path, strip(&text));
        }
        let mut test_files = HashSet::new();
        let mut children: HashMap<ModPath, HashSet<String>> = HashMap::new();
        for (module, text) in &modules {
            for (name, at) in mod_declarations(text) {
                if cfg_test_before(text, at) {
                    test_files.insert([module.clone(), vec![name.clone()]].concat());
                }
                children.entry(module.clone()).or_default().insert(name);
            }
        }
        let no_children = HashSet::new();
        let mut named = Vec::new();
        for (module, text) in &modules {
            if test_files.iter().any(|t| module.starts_with(t)) {
                continue;
            }
            let kids = children.get(module).unwrap_or(&no_children);
            scan(module, text, kids, &mut named);
        }
        let file_module = |path: &[String]| -> (ModPath, Vec<String>) {
            let at = (0..=path.len()).rev().find(|&k| modules.contains_key(&path[..k])).unwrap();
            (path[..at].to_vec(), path[at..].to_vec())
        };
        // Re-exports: a module's name -> the absolute path it stands for
        // (`None`: an item of another crate).
        let mut exports: HashMap<ModPath, HashMap<String, Option<ModPath>>> = HashMap::new();
        for n in named.iter().filter(|n| n.export.is_some()) {
            let name = n.export.clone().unwrap();
            let target = (!n.external).then(|| {
                let mut segs = n.segs.clone();
                if segs.last().is_some_and(|s| s == "self") {
                    segs.pop();
                }
                absolute(&n.module, &n.inline, &segs)
            });
            let (home, _) = file_module(&[n.module.clone(), n.inline.clone()].concat());
            exports.entry(home).or_default().insert(name, target);
        }
        let resolve = |path: ModPath| -> Option<ModPath> {
            let mut path = path;
            for _ in 0..16 {
                let (home, rest) = file_module(&path);
                match rest.first().and_then(|r| exports.get(&home)?.get(r)) {
                    Some(None) => return None,
                    Some(Some(target)) => path = [target.clone(), rest[1..].to_vec()].concat(),
                    None => return Some(home),
                }
            }
            None
        };
        let mut edges: BTreeMap<ModPath, BTreeMap<ModPath, String>> = BTreeMap::new();
        for n in named.iter().filter(|n| n.export.is_none() && !n.external) {
            let segs: Vec<String> = n.segs.iter().filter(|s| *s != "*").cloned().collect();
            let Some(target) = resolve(absolute(&n.module, &n.inline, &segs)) else { continue };
            if target != n.module {
                let why = format!("line {}: {}", n.line, n.segs.join("::"));
                edges.entry(n.module.clone()).or_default().entry(target).or_insert(why);
            }
        }
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        // Files first, then folders: at depth d every module stands for its
        // ancestor d levels down (a folder with all it holds), so a circle
        // between a folder and its siblings shows though no two files close
        // one. A circle the shallower pass found already is not repeated.
        let deepest = modules.keys().map(Vec::len).max().unwrap_or(0);
        for depth in std::iter::once(usize::MAX).chain((1..deepest).rev()) {
            let at = |m: &ModPath| m[..m.len().min(depth)].to_vec();
            let mut folded: BTreeMap<ModPath, BTreeMap<ModPath, String>> = BTreeMap::new();
            for (from, tos) in &edges {
                for (to, why) in tos {
                    if at(from) != at(to) {
                        let why = format!("{} -> {} ({why})", name(from), name(to));
                        folded.entry(at(from)).or_default().entry(at(to)).or_insert(why);
                    }
                }
            }
            let nodes: BTreeSet<ModPath> = modules.keys().map(at).collect();
            for scc in components(nodes.into_iter().collect(), &folded) {
                let members: BTreeSet<ModPath> = scc.into_iter().collect();
                if !seen.insert(members.clone()) {
                    continue;
                }
                let mut lines = Vec::new();
                for from in &members {
                    for (to, why) in folded.get(from).into_iter().flatten() {
                        if members.contains(to) {
                            lines.push(why.clone());
                        }
                    }
                }
                let folder = |m: &ModPath| {
                    let holds = modules.keys().any(|k| k.len() > m.len() && k.starts_with(m));
                    if holds && depth != usize::MAX { format!("{}/", name(m)) } else { name(m) }
                };
                let names: Vec<String> = members.iter().map(folder).collect();
                out.push(format!("{}: {}", names.join(", "), lines.join("; ")));
            }
        }
        out
    }

    fn name(m: &ModPath) -> String {
        if m.is_empty() { "lib".to_owned() } else { m.join("::") }
    }

    /// `segs` named in module `module` (inside inline modules `inline`) as
    /// an absolute path from the crate root.
    fn absolute(module: &[String], inline: &[String], segs: &[String]) -> ModPath {
        let mut base: ModPath = [module, inline].concat();
        let mut rest = segs;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("super" | "self") => {
                while let Some(first) = rest.first().filter(|s| *s == "super" || *s == "self") {
                    if first == "super" {
                        base.pop();
                    }
                    rest = &rest[1..];
                }
            }
            _ => {}
        }
        [base, rest.to_vec()].concat()
    }

    /// Strongly connected components of more than one module (Tarjan).
    fn components(
        nodes: Vec<ModPath>,
        edges: &BTreeMap<ModPath, BTreeMap<ModPath, String>>,
    ) -> Vec<Vec<ModPath>> {
        struct Walk<'e> {
            edges: &'e BTreeMap<ModPath, BTreeMap<ModPath, String>>,
            index: HashMap<ModPath, usize>,
            low: HashMap<ModPath, usize>,
            stack: Vec<ModPath>,
            on_stack: HashSet<ModPath>,
            out: Vec<Vec<ModPath>>,
        }
        impl Walk<'_> {
            fn visit(&mut self, v: &ModPath) {
                let at = self.index.len();
                self.index.insert(v.clone(), at);
                self.low.insert(v.clone(), at);
                self.stack.push(v.clone());
                self.on_stack.insert(v.clone());
                for w in self.edges.get(v).into_iter().flat_map(|e| e.keys()) {
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v.clone(), low);
                    } else if self.on_stack.contains(w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v.clone(), low);
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack.remove(&w);
                        let done = &w == v;
                        scc.push(w);
                        if done {
                            break;
                        }
                    }
                    if scc.len() > 1 {
                        scc.sort();
                        self.out.push(scc);
                    }
                }
            }
        }
        let mut walk = Walk {
            edges,
            index: HashMap::new(),
            low: HashMap::new(),
            stack: Vec::new(),
            on_stack: HashSet::new(),
            out: Vec::new(),
        };
        for v in &nodes {
            if !walk.index.contains_key(v) {
                walk.visit(v);
            }
        }
        walk.out.sort();
        walk.out
    }

    /// The source with comments, strings and character literals blanked
    /// (their line breaks kept, so lines still count).
    fn strip(src: &str) -> Vec<char> {
        let c: Vec<char> = src.chars().collect();
        let mut out = Vec::with_capacity(c.len());
        let keep_lines = |out: &mut Vec<char>, from: &[char]| {
            out.extend(from.iter().filter(|ch| **ch == '\n'));
            out.push(' ');
        };
        let mut i = 0;
        while i < c.len() {
            let next = c.get(i + 1).copied();
            if c[i] == '/' && next == Some('/') {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            } else if c[i] == '/' && next == Some('*') {
                let (start, mut depth) = (i, 0);
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                keep_lines(&mut out, &c[start..i.min(c.len())]);
            } else if let Some(end) = raw_string_end(&c, i) {
                keep_lines(&mut out, &c[i..end]);
                i = end;
            } else if c[i] == '"' {
                let start = i;
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                keep_lines(&mut out, &c[start..i.min(c.len())]);
            } else if c[i] == '\'' && next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push(' ');
            } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push(' ');
            } else {
                out.push(c[i]);
                i += 1;
            }
        }
        out
    }

    /// Where the raw string starting at `i` (`r"…"`, `r#"…"#`, `br"…"`)
    /// ends, if one does.
    fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
        let mut j = i;
        if c[j] == 'b' {
            j += 1;
        }
        if c.get(j) != Some(&'r') || (i > 0 && is_ident(c[i - 1])) {
            return None;
        }
        j += 1;
        let hashes = c[j..].iter().take_while(|ch| **ch == '#').count();
        j += hashes;
        if c.get(j) != Some(&'"') {
            return None;
        }
        j += 1;
        while j < c.len() {
            if c[j] == '"'
                && c[j + 1..].iter().take(hashes).filter(|ch| **ch == '#').count() == hashes
            {
                return Some(j + 1 + hashes);
            }
            j += 1;
        }
        Some(c.len())
    }

    fn is_ident(ch: char) -> bool {
        ch.is_ascii_alphanumeric() || ch == '_'
    }

    fn ident(c: &[char], i: &mut usize) -> Option<String> {
        let start = *i;
        if start >= c.len() || !(c[start].is_ascii_alphabetic() || c[start] == '_') {
            return None;
        }
        while *i < c.len() && is_ident(c[*i]) {
            *i += 1;
        }
        Some(c[start..*i].iter().collect())
    }

    fn skip_ws(c: &[char], i: &mut usize) {
        while *i < c.len() && c[*i].is_whitespace() {
            *i += 1;
        }
    }

    /// The `mod NAME;` declarations of a file, with where each starts.
    fn mod_declarations(c: &[char]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            if (i == 0 || !is_ident(c[i - 1])) && c[i..].starts_with(&['m', 'o', 'd']) {
                let start = i;
                i += 3;
                if c.get(i).is_some_and(|ch| ch.is_whitespace()) {
                    skip_ws(c, &mut i);
                    if let Some(name) = ident(c, &mut i) {
                        skip_ws(c, &mut i);
                        if c.get(i) == Some(&';') {
                            out.push((name, start));
                        }
                    }
                }
            } else {
                i += 1;
            }
        }
        out
    }

    /// The text before `at` with any visibility (`pub`, `pub(crate)`) it
    /// ends in taken off.
    fn before_visibility(c: &[char], at: usize) -> (String, bool) {
        let text: String = c[..at].iter().collect();
        let text = text.trim_end();
        if let Some(rest) = text.strip_suffix("pub")
            && !rest.ends_with(is_ident)
        {
            return (rest.to_owned(), true);
        }
        if text.ends_with(')')
            && let Some(open) = text.rfind("pub(")
            && text[open..].matches(')').count() == 1
        {
            return (text[..open].to_owned(), true);
        }
        (text.to_owned(), false)
    }

    /// Whether the item starting at `at` carries `#[cfg(test)]`.
    fn cfg_test_before(c: &[char], at: usize) -> bool {
        let (mut text, _) = before_visibility(c, at);
        loop {
            let trimmed = text.trim_end();
            if !trimmed.ends_with(']') {
                return false;
            }
            let Some(open) = trimmed.rfind("#[") else { return false };
            let attribute: String = trimmed[open + 2..trimmed.len() - 1]
                .chars()
                .filter(|ch| !ch.is_whitespace())
                .collect();
            if attribute == "cfg(test)" {
                return true;
            }
            text = trimmed[..open].to_owned();
        }
    }

    /// A use tree or a path from `i`: each full path, with the name it is
    /// bound to (`as` taken into account where `renames`).
    fn tree(c: &[char], i: &mut usize, renames: bool) -> Vec<(Vec<String>, Option<String>)> {
        skip_ws(c, i);
        match c.get(*i) {
            Some('{') => {
                *i += 1;
                let mut all = Vec::new();
                loop {
                    skip_ws(c, i);
                    match c.get(*i) {
                        None => return all,
                        Some('}') => {
                            *i += 1;
                            return all;
                        }
                        Some(',') => *i += 1,
                        _ => {
                            let at = *i;
                            all.extend(tree(c, i, renames));
                            if *i == at {
                                *i += 1;
                            }
                        }
                    }
                }
            }
            Some('*') => {
                *i += 1;
                vec![(vec!["*".to_owned()], None)]
            }
            _ => {
                let Some(seg) = ident(c, i) else { return vec![(Vec::new(), None)] };
                let after = *i;
                skip_ws(c, i);
                if c[*i..].starts_with(&[':', ':']) {
                    *i += 2;
                    skip_ws(c, i);
                    if c.get(*i) != Some(&'<') {
                        return tree(c, i, renames)
                            .into_iter()
                            .map(|(segs, alias)| ([vec![seg.clone()], segs].concat(), alias))
                            .collect();
                    }
                }
                *i = after;
                let mut alias = None;
                if renames {
                    let mut j = *i;
                    skip_ws(c, &mut j);
                    if ident(c, &mut j).as_deref() == Some("as") {
                        skip_ws(c, &mut j);
                        alias = ident(c, &mut j);
                        *i = j;
                    }
                }
                vec![(vec![seg], alias)]
            }
        }
    }

    /// Every path `module`'s text names: its `use` lines and the paths in
    /// its code that start at the crate, a parent, itself or a child.
    fn scan(module: &ModPath, c: &[char], children: &HashSet<String>, out: &mut Vec<Named>) {
        let line = |at: usize| c[..at].iter().filter(|ch| **ch == '\n').count() + 1;
        let local = |seg: &str| matches!(seg, "crate" | "super" | "self") || children.contains(seg);
        // Inline modules open: name, the brace depth inside, whether a test.
        let mut inline: Vec<(String, usize, bool)> = Vec::new();
        let mut pending: Option<(String, bool)> = None;
        let mut depth = 0;
        let mut i = 0;
        while i < c.len() {
            let ch = c[i];
            if ch == '{' {
                depth += 1;
                if let Some((name, test)) = pending.take() {
                    inline.push((name, depth, test));
                }
                i += 1;
                continue;
            }
            if ch == '}' {
                if inline.last().is_some_and(|m| m.1 == depth) {
                    inline.pop();
                }
                depth -= 1;
                i += 1;
                continue;
            }
            let starts_word = (ch.is_ascii_alphabetic() || ch == '_')
                && (i == 0 || !(is_ident(c[i - 1]) || c[i - 1] == ':'));
            if !starts_word {
                i += 1;
                continue;
            }
            let start = i;
            let word = ident(c, &mut i).unwrap();
            let in_test = inline.iter().any(|m| m.2);
            let inline_names: Vec<String> = inline.iter().map(|m| m.0.clone()).collect();
            match word.as_str() {
                "mod" => {
                    skip_ws(c, &mut i);
                    if let Some(name) = ident(c, &mut i) {
                        skip_ws(c, &mut i);
                        if c.get(i) == Some(&'{') {
                            pending = Some((name, in_test || cfg_test_before(c, start)));
                        }
                    }
                }
                "use" => {
                    let end = c[i..].iter().position(|ch| *ch == ';').map_or(c.len(), |p| i + p);
                    if !(in_test || cfg_test_before(c, start)) {
                        let (_, export) = before_visibility(c, start);
                        for (segs, alias) in tree(c, &mut i, true) {
                            let Some(first) = segs.first() else { continue };
                            let external = !local(first);
                            if external && !export {
                                continue;
                            }
                            let name = match segs.last().map(String::as_str) {
                                Some("self") => segs.get(segs.len().wrapping_sub(2)).cloned(),
                                Some("*") => None,
                                last => last.map(str::to_owned),
                            };
                            let export = if export { Some(alias.or(name)) } else { None };
                            // A glob re-export names nothing it can be followed by.
                            if export.as_ref().is_some_and(Option::is_none) {
                                continue;
                            }
                            out.push(Named {
                                module: module.clone(),
                                inline: inline_names.clone(),
                                segs,
                                export: export.flatten(),
                                external,
                                line: line(start),
                            });
                        }
                    }
                    i = end;
                }
                _ if !in_test && local(&word) && c[i..].starts_with(&[':', ':']) => {
                    i = start;
                    for (segs, _) in tree(c, &mut i, false) {
                        out.push(Named {
                            module: module.clone(),
                            inline: inline_names.clone(),
                            segs,
                            export: None,
                            external: false,
                            line: line(start),
                        });
                    }
                }
                _ => {}
            }
        }
    }
}
