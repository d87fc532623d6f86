//! The engine's layers as its module map states them, checked against the code: every
//! `crate::` path in a module's files must point to a module in a lower layer (or its own),
//! and neither the engine nor the desktop shell may have a cycle between its top-level
//! modules. The map is read from `src/lib.rs`, so the map and the code cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level module a source file belongs to: `engine/sync.rs` → `engine`, `pool.rs` →
/// `pool`; `lib.rs` and `main.rs` are the crate root.
fn module_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// What the crate root re-exports: `pub use engine::Engine;` makes `crate::Engine` a use
/// of `engine`.
fn root_reexports(root: &Path) -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(root.join("lib.rs")).unwrap();
    let mut aliases = BTreeMap::new();
    for line in lib.lines() {
        let Some(path) = line.trim().strip_prefix("pub use ").and_then(|p| p.strip_suffix(';')) else { continue };
        if let Some((module, name)) = path.split_once("::") {
            aliases.insert(name.to_string(), module.to_string());
        }
    }
    aliases
}

/// Every module a module's files mention as `crate::name` outside comments, with the first
/// place it does. Names that are neither a module nor a re-export of one (items of the
/// crate root) are left out.
fn references(root: &Path, extra_modules: &BTreeSet<String>) -> BTreeMap<String, BTreeMap<String, String>> {
    let aliases = root_reexports(root);
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(root, f)).collect();
    modules.extend(extra_modules.iter().cloned());
    let mut refs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(root, &file) else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        let entry = refs.entry(module.clone()).or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let name = aliases.get(&name).cloned().unwrap_or(name);
                if modules.contains(&name) && name != module {
                    let place = format!("{}:{}", file.strip_prefix(root).unwrap().display(), n + 1);
                    entry.entry(name).or_insert(place);
                }
            }
        }
    }
    refs
}

/// A cycle among the modules, if there is one, as the path around it.
fn find_cycle(refs: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        refs: &BTreeMap<String, BTreeMap<String, String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in refs.get(node).map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            if let Some(c) = visit(&next, refs, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in refs.keys() {
        if let Some(c) = visit(node, refs, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

/// The layer of every module named in the module map's table (a row `| 3 | [`watch`] | ...`).
fn layers_from_map(lib_rs: &str) -> BTreeMap<String, u32> {
    let mut layers = BTreeMap::new();
    for line in lib_rs.lines() {
        let Some(row) = line.strip_prefix("//! |") else { continue };
        let mut cells = row.split('|');
        let Some(Ok(layer)) = cells.next().map(|c| c.trim().parse::<u32>()) else { continue };
        // Every `name` in the second cell, linked or not.
        let names = cells.next().unwrap_or("");
        for name in names.split('`').skip(1).step_by(2) {
            layers.insert(name.to_string(), layer);
        }
    }
    layers
}

#[test]
fn every_engine_module_uses_only_the_layers_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = layers_from_map(&std::fs::read_to_string(root.join("lib.rs")).unwrap());
    let refs = references(&root, &layers.keys().cloned().collect());
    assert!(layers.len() >= 15, "the module map's table lists every module with its layer: {layers:?}");
    let mut problems = Vec::new();
    for (module, uses) in &refs {
        let Some(&own) = layers.get(module) else {
            problems.push(format!("{module} is not in the module map of src/lib.rs"));
            continue;
        };
        for (used, place) in uses {
            match layers.get(used) {
                None => problems.push(format!("{place}: {module} uses {used}, which the module map does not list")),
                Some(&layer) if layer < own => problems
                    .push(format!("{place}: {module} (layer {own}) uses {used} (layer {layer}), a layer above it")),
                Some(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "the code breaks the module map's layers:\n{}", problems.join("\n"));
    assert_eq!(find_cycle(&refs), None, "no cycle between the engine's modules");
}

#[test]
fn the_desktop_shell_has_no_cycle_between_its_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let refs = references(&root, &BTreeSet::new());
    assert!(refs.len() >= 6, "the shell's modules were found: {:?}", refs.keys().collect::<BTreeSet<_>>());
    assert_eq!(find_cycle(&refs), None, "no cycle between the shell's modules: {refs:#?}");
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut refs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    refs.entry("a".into()).or_default().insert("b".into(), "a.rs:1".into());
    refs.entry("b".into()).or_default().insert("c".into(), "b.rs:1".into());
    assert_eq!(find_cycle(&refs), None);
    refs.entry("c".into()).or_default().insert("a".into(), "c.rs:1".into());
    assert_eq!(find_cycle(&refs), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
