//! The rooms of the hub stay rooms: an architecture test over the modules' paths (ARCHITECTURE.md
//! says why). It reads `src/` and fails naming the file and the line that crosses a wall:
//! - the two HTTP faces, `api` and `web`, never import each other;
//! - the core (`app`), the workers (`worker`, `validate`), the repositories (`db`) and the blob
//!   stores (`store`) never import a face, nor axum beyond its plain `http` types;
//! - nothing outside `store/` names a blob backend, and nothing outside `db/` a database pool;
//! - the hub's top-level modules, and the core's own modules, import each other without cycles;
//! - the delivery CLI does not import the hub (it has the client and the API types).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its module path below the crate (`["app", "uploads", "reaper"]`) and text.
struct Source {
    file: String,
    module: Vec<String>,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).unwrap().with_extension("");
                let mut module: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                out.push(Source { file: rel.display().to_string(), module, text });
            }
        }
    }
    assert!(out.len() > 30, "found the hub's sources in {}", root.display());
    out
}

/// The code of a line, without its comment.
fn code(line: &str) -> &str {
    let line = line.trim_start();
    if line.starts_with("//") { "" } else { line.split(" //").next().unwrap_or(line) }
}

/// Every module path a file refers to (`crate::a::b`, `super::x`, and `use` groups of either),
/// made absolute, with the line it is on.
fn references(source: &Source) -> Vec<(Vec<String>, usize)> {
    let mut out = Vec::new();
    // The module `super` means in this file (a file's own items are in `module`).
    let parent = &source.module[..source.module.len().saturating_sub(1)];
    for (n, line) in source.text.lines().enumerate() {
        let line = code(line);
        for (prefix, base) in [("crate::", &[][..]), ("super::", parent)] {
            let mut rest = line;
            while let Some(at) = rest.find(prefix) {
                let before = rest[..at].chars().last();
                rest = &rest[at + prefix.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue; // part of a longer path (e.g. `hub::crate::`), not ours
                }
                let mut path: Vec<String> = base.to_vec();
                for segment in rest.split("::") {
                    let name: String = segment.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if name.is_empty() || name.chars().next().is_some_and(char::is_uppercase) {
                        break;
                    }
                    path.push(name);
                    if !segment.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        break;
                    }
                }
                // A `use super::{a, b}` group names several modules.
                if let Some(group) = rest
                    .strip_prefix(&format!("{}::{{", path[base.len()..].join("::")))
                    .or_else(|| rest.strip_prefix('{'))
                {
                    let group = group.split('}').next().unwrap_or_default();
                    for item in group.split(',') {
                        let name: String =
                            item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        if !name.is_empty() && !name.chars().next().is_some_and(char::is_uppercase) {
                            let mut one = path.clone();
                            one.push(name);
                            out.push((one, n + 1));
                        }
                    }
                }
                out.push((path, n + 1));
            }
        }
    }
    out
}

fn is_in(module: &[String], room: &[&str]) -> bool {
    module.len() >= room.len() && module.iter().zip(room).all(|(a, b)| a == b)
}

#[test]
fn the_faces_do_not_import_each_other_and_the_core_imports_no_face() {
    let mut crossings = Vec::new();
    for source in sources() {
        let core = ["app", "worker", "validate", "db", "store", "secrets"].iter().any(|r| is_in(&source.module, &[r]));
        for (path, line) in references(&source) {
            let wall = if is_in(&source.module, &["api"]) && is_in(&path, &["web"]) {
                "the API imports the pages"
            } else if is_in(&source.module, &["web"]) && is_in(&path, &["api"]) {
                "the pages import the API"
            } else if core && (is_in(&path, &["api"]) || is_in(&path, &["web"])) {
                "the core imports an HTTP face"
            } else {
                continue;
            };
            crossings.push(format!("{}:{line}: {wall} ({})", source.file, path.join("::")));
        }
        if core {
            for (n, line) in source.text.lines().enumerate() {
                let line = code(line);
                if line.contains("axum::") && line.split("axum::").skip(1).any(|rest| !rest.starts_with("http")) {
                    crossings.push(format!("{}:{}: the core uses axum beyond its http types", source.file, n + 1));
                }
            }
        }
    }
    assert!(crossings.is_empty(), "walls crossed:\n{}", crossings.join("\n"));
}

#[test]
fn backends_are_their_own_business() {
    let mut leaks = Vec::new();
    for source in sources() {
        for (n, line) in source.text.lines().enumerate() {
            let line = code(line);
            let blob_backend = ["LocalStore", "S3Store", "S3Settings", "local_path", "object_store::"];
            if !is_in(&source.module, &["store"]) && blob_backend.iter().any(|b| line.contains(b)) {
                leaks.push(format!("{}:{}: names a blob backend outside store/: {line}", source.file, n + 1));
            }
            let database = ["Pool::Sqlite", "Pool::Postgres", "SqlitePool", "PgPool", "Dialect::"];
            if !is_in(&source.module, &["db"]) && database.iter().any(|b| line.contains(b)) {
                leaks.push(format!("{}:{}: names a database backend outside db/: {line}", source.file, n + 1));
            }
        }
    }
    assert!(leaks.is_empty(), "backend questions outside their backend:\n{}", leaks.join("\n"));
}

/// The edges between the children of `room` (the room's own file, its parent, is left out: a
/// parent may name its children).
fn edges(room: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources() {
        if !is_in(&source.module, room) || source.module.len() <= room.len() {
            continue;
        }
        let from = source.module[room.len()].clone();
        graph.entry(from.clone()).or_default();
        for (path, _) in references(&source) {
            // `crate::app::AppError` is the parent's; `crate::app::uploads::…` a sibling's.
            if is_in(&path, room) && path.len() > room.len() && path[room.len()] != from && sibling(room, &path) {
                graph.entry(from.clone()).or_default().insert(path[room.len()].clone());
            }
        }
    }
    graph
}

/// Whether `path` names a module (a file or folder) that is a child of `room`.
fn sibling(room: &[&str], path: &[String]) -> bool {
    let dir = room.iter().fold(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), |d, r| d.join(r));
    let name = &path[room.len()];
    dir.join(format!("{name}.rs")).exists() || dir.join(name).is_dir()
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn modules_import_each_other_without_cycles() {
    for room in [&[][..], &["app"][..], &["api"][..], &["db"][..]] {
        let graph = edges(room);
        assert!(graph.len() > 2, "found the modules of {room:?}: {graph:?}");
        if let Some(found) = cycle(&graph) {
            panic!("modules of crate::{} import each other in a cycle: {}", room.join("::"), found.join(" → "));
        }
    }
    // The layers, top to bottom, as ARCHITECTURE.md draws them.
    let top = edges(&[]);
    for (from, to) in [("api", "app"), ("web", "app"), ("worker", "app"), ("app", "db"), ("app", "store")] {
        assert!(top[from].contains(to), "{from} uses {to}: {top:?}");
    }
}

/// The delivery CLI talks to the hub through the client and the shared API types only.
#[test]
fn the_cli_does_not_import_the_hub() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contenthub/src/cli");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let imports: Vec<&str> =
            text.lines().map(code).filter(|l| l.contains("hub::") && !l.contains("hub_domain::")).collect();
        assert!(imports.is_empty(), "{} imports the hub: {imports:#?}", path.display());
        files += 1;
    }
    assert!(files >= 2, "found the CLI in {}", dir.display());
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    let fake = Source {
        file: "web/fake.rs".into(),
        module: vec!["web".into(), "fake".into()],
        text:
            "use crate::api::auth::{cookie, session};\nuse super::{fields, format::when};\n// crate::api in a comment\n"
                .into(),
    };
    let refs: Vec<String> = references(&fake).into_iter().map(|(p, _)| p.join("::")).collect();
    assert!(refs.contains(&"api::auth".to_owned()), "{refs:?}");
    assert!(refs.contains(&"web::fields".to_owned()) && refs.contains(&"web::format".to_owned()), "{refs:?}");
    assert!(!refs.iter().any(|r| r == "api"), "comments are not code: {refs:?}");
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycle(&graph), Some(vec!["a".to_owned(), "b".to_owned(), "a".to_owned()]));
    graph.get_mut("b").unwrap().clear();
    assert_eq!(cycle(&graph), None);
}
