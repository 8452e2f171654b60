//! The README and the pages under `docs/` link to files of the repository: every relative link
//! resolves, so moving a page or a file cannot leave a reader at a dead end.

use std::path::Path;

/// The targets of `[text](target)` links in `markdown`.
fn links(markdown: &str) -> Vec<&str> {
    markdown
        .match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &markdown[at + 2..];
            let end = rest.find(|c: char| c == ')' || c.is_whitespace())?;
            Some(&rest[..end])
        })
        .collect()
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    files.extend(
        pathsec_suite::files_under(&root.join("docs"))
            .into_iter()
            .filter(|path| path.extension().is_some_and(|e| e == "md")),
    );
    assert!(files.len() > 10, "the README, the CHANGELOG and the docs: {}", files.len());
    let mut dead = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") || target.starts_with('#') {
                continue;
            }
            let path = target.split('#').next().unwrap_or(target);
            if !file.parent().expect("a folder").join(path).exists() {
                dead.push(format!("{}: {target}", file.strip_prefix(root).unwrap_or(file).display()));
            }
        }
    }
    assert!(dead.is_empty(), "links to nothing:\n{}", dead.join("\n"));
}

#[test]
fn the_check_sees_a_dead_link() {
    assert_eq!(
        links("see [a](docs/a.md) and [b](https://x) [c](../c.md#part)"),
        ["docs/a.md", "https://x", "../c.md#part"]
    );
}
