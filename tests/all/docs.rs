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

/// The README and every Markdown page under `docs/`.
fn pages(root: &Path) -> Vec<std::path::PathBuf> {
    let mut pages = vec![root.join("README.md")];
    pages.extend(
        pathsec_suite::files_under(&root.join("docs"))
            .into_iter()
            .filter(|path| path.extension().is_some_and(|e| e == "md")),
    );
    pages
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = pages(root);
    files.push(root.join("CHANGELOG.md"));
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

/// The `### ` headings of the CHANGELOG that are not Keep a Changelog's kinds of change.
fn foreign_kinds(changelog: &str) -> Vec<&str> {
    const KINDS: [&str; 6] = ["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"];
    changelog.lines().filter_map(|line| line.strip_prefix("### ")).filter(|kind| !KINDS.contains(kind)).collect()
}

#[test]
fn the_changelog_groups_by_kind_of_change() {
    let changelog = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("CHANGELOG.md")).expect("read");
    assert!(changelog.contains("## [Unreleased]\n"), "an Unreleased section");
    assert!(changelog.contains("\n### Changed\n"), "a Changed part");
    let foreign = foreign_kinds(&changelog);
    assert!(
        foreign.is_empty(),
        "Keep a Changelog groups by Added, Changed, Deprecated, Removed, Fixed, Security: {foreign:?}"
    );
    assert_eq!(foreign_kinds("### Added\n#### topic\n### The README (issue 31)\n"), ["The README (issue 31)"]);
}

/// The ```rust blocks of `markdown`.
fn rust_blocks(markdown: &str) -> Vec<&str> {
    markdown.split("```rust\n").skip(1).filter_map(|rest| rest.split("\n```").next()).collect()
}

#[test]
fn every_rust_block_in_the_readme_and_docs_is_compiled_code() {
    // A block is an example program the build compiles (`host/examples/`), or the template edit the CLI
    // test `a_newcomer_writes_tests_and_evaluates_a_policy` takes from the page and builds.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let examples: Vec<String> = pathsec_suite::files_under(&root.join("host/examples"))
        .iter()
        .map(|file| std::fs::read_to_string(file).expect("readable"))
        .collect();
    let pages = pages(root);
    let mut loose = Vec::new();
    let mut blocks = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("readable");
        for block in rust_blocks(&text) {
            blocks += 1;
            let compiled =
                examples.iter().any(|example| example.contains(block)) || block.contains("fn path_a_trusted");
            if !compiled {
                loose.push(format!(
                    "{}: {}",
                    page.strip_prefix(root).unwrap_or(page).display(),
                    block.lines().next().unwrap_or("")
                ));
            }
        }
    }
    assert!(blocks >= 3, "the README and the guides show code: {blocks}");
    assert!(
        loose.is_empty(),
        "code shown that nothing compiles (make it an example under host/examples/):\n{}",
        loose.join("\n")
    );
    assert_eq!(rust_blocks("x\n```rust\nfn a() {}\n```\n```toml\nb\n```"), ["fn a() {}"]);
}
