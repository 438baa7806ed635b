//! The crate's layers, read from its own `use` lines: no import goes back up.
//!
//! `cli` → the commands (`train`, `translate`, `generate`, `eval`, `plot`, `bench`) → `run` →
//! `model`, `data` (and `backend`, `fs`). Two checks, each failing on a cycle and naming it:
//! - between the crate's top-level modules (`crate::train` used in `eval` and `crate::eval`
//!   used in `train` is a cycle);
//! - between the files of one directory module (`encoder.rs` using `transformer.rs`, which
//!   uses `encoder.rs`, is a cycle; a file using its parent's `mod.rs` is not counted).
//!
//! And `model` stays at the bottom: it imports nothing else of the crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module, named by its path from the crate root: `["train", "step"]`.
type Module = Vec<String>;

/// Every source file of the library as its module path, with its text.
fn modules() -> BTreeMap<Module, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && path != root.join("main.rs") {
                let text = std::fs::read_to_string(&path).expect("readable source");
                files.insert(module_of(&root, &path), text);
            }
        }
    }
    files
}

/// `src/train/step.rs` → `["train", "step"]`; `src/train/mod.rs` → `["train"]`.
fn module_of(root: &Path, path: &Path) -> Module {
    let relative: PathBuf = path
        .strip_prefix(root)
        .expect("under src/")
        .with_extension("");
    let mut parts: Module = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The module paths `text` (the file of `module`) refers to: `crate::a::b` and `super::a`
/// paths, in `use` declarations or in code, with a `{…}` group expanded one level.
fn references(module: &Module, text: &str) -> Vec<Module> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for prefix in ["crate::", "super::"] {
        for (start, _) in code.match_indices(prefix) {
            let preceded = code[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if preceded {
                continue;
            }
            let base = if prefix == "crate::" {
                Vec::new()
            } else {
                parent(module)
            };
            for path in expand(&code[start + prefix.len()..]) {
                let mut target = base.clone();
                for part in path.split("::") {
                    if part.is_empty() || part == "self" || part.starts_with(char::is_uppercase) {
                        break;
                    }
                    target.push(part.to_string());
                }
                found.push(target);
            }
        }
    }
    found
}

/// The paths that start `rest`: `a::b::C` is one; `a::{b, c::D}` is `a::b` and `a::c::D`.
fn expand(rest: &str) -> Vec<String> {
    let head: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let after = &rest[head.len()..];
    if !after.starts_with('{') {
        return vec![head];
    }
    let mut depth = 0;
    let mut items = Vec::new();
    let mut item = String::new();
    for c in after.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    items.push(std::mem::take(&mut item));
                    break;
                }
            }
            ',' if depth == 1 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(|item| format!("{head}{item}"))
        .collect()
}

/// The module a `super::` path of `module`'s file starts from.
fn parent(module: &Module) -> Module {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// The longest known module that `path` is in (a path may go on to a function or a type).
fn resolve(known: &BTreeSet<Module>, path: &Module) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|candidate| known.contains(candidate))
}

/// A cycle of `edges`, if there is one, as the list of its nodes.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

/// The import edges of the crate: (from, to) module pairs, each resolved to a known module.
fn imports() -> Vec<(Module, Module)> {
    let files = modules();
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    let mut edges = Vec::new();
    for (module, text) in &files {
        for path in references(module, text) {
            if let Some(target) = resolve(&known, &path)
                && &target != module
            {
                edges.push((module.clone(), target));
            }
        }
    }
    edges
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in imports() {
        if let (Some(a), Some(b)) = (from.first(), to.first())
            && a != b
        {
            edges.entry(a.clone()).or_default().insert(b.clone());
        }
    }
    assert!(
        edges.get("train").is_some_and(|e| e.contains("run")),
        "the check reads no imports: {edges:?}"
    );
    if let Some(cycle) = cycle(&edges) {
        panic!("import cycle between modules: {}", cycle.join(" → "));
    }
}

#[test]
fn the_files_of_each_module_import_each_other_without_a_cycle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in imports() {
        let siblings = from.len() == to.len() && from.len() > 1 && parent(&from) == parent(&to);
        if siblings {
            edges
                .entry(from.join("::"))
                .or_default()
                .insert(to.join("::"));
        }
    }
    assert!(
        edges
            .get("model::transformer")
            .is_some_and(|e| e.contains("model::encoder")),
        "the check reads no imports: {edges:?}"
    );
    if let Some(cycle) = cycle(&edges) {
        panic!("import cycle between files: {}", cycle.join(" → "));
    }
}

#[test]
fn the_model_imports_nothing_else_of_the_crate() {
    let outside: BTreeSet<String> = imports()
        .into_iter()
        .filter(|(from, to)| {
            from.first().is_some_and(|m| m == "model") && to.first() != from.first()
        })
        .map(|(from, to)| format!("{} → {}", from.join("::"), to.join("::")))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
    .collect();
    let found = cycle(&edges).expect("a cycle");
    assert_eq!(found.first(), found.last());
    assert_eq!(found.len(), 4, "{found:?}");
    let acyclic: BTreeMap<String, BTreeSet<String>> = [("a", vec!["b"]), ("c", vec!["b"])]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
        .collect();
    assert_eq!(cycle(&acyclic), None);
}
