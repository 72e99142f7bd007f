//! The upload page at `/`: served with a strict content security policy,
//! asking for a token when the server requires one, and gone when switched off.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, spawn_app, spawn_app_with, with_tokens};

#[tokio::test]
async fn the_page_and_every_file_it_loads_are_served_under_a_strict_policy() {
    let app = spawn_app(Backend::Sqlite).await;
    let page = app.client.get(app.url("/")).send().await.expect("GET /");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(policy.starts_with("default-src 'none'; script-src 'self' 'wasm-unsafe-eval';"));
    assert!(policy.contains("connect-src 'self'"));
    assert!(policy.contains("frame-ancestors 'none'"));
    let html = page.text().await.expect("the page");
    assert!(html.contains("data-auth=\"off\""));
    assert!(!html.contains("http://") && !html.contains("https://"));

    for path in [
        "/ui/page.js",
        "/ui/page.css",
        "/ui/client/index.js",
        "/ui/client/hash-worker.js",
        "/ui/client/platforms/browser.js",
        "/ui/client/vendor/hash-wasm-sha256.umd.min.js",
    ] {
        let answer = app.client.get(app.url(path)).send().await.expect("GET");
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert_eq!(
            answer.headers()["content-security-policy"].to_str().ok(),
            Some(policy.as_str()),
            "{path}"
        );
        assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
    }
    let missing = app
        .client
        .get(app.url("/ui/client/platforms/node.js"))
        .send()
        .await
        .expect("GET");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_module_the_page_imports_is_served() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut pending = vec![
        "/ui/page.js".to_owned(),
        "/ui/client/hash-worker.js".to_owned(),
    ];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let answer = app.client.get(app.url(&path)).send().await.expect("GET");
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let source = answer.text().await.expect("the module");
        pending.extend(relative_imports(&source).map(|import| resolve(&path, import)));
    }
    assert!(seen.contains("/ui/client/upload.js"), "{seen:?}");
}

/// The relative specifiers a module imports from: `import './x.js'`, and
/// `from './x.js'` ending an `import` or `export` (on one line or several).
fn relative_imports(source: &str) -> impl Iterator<Item = &str> + '_ {
    source.lines().filter_map(|line| {
        let line = line.trim();
        let bare = line
            .strip_prefix("import ")
            .filter(|rest| rest.starts_with(['\'', '"']));
        let from = ["import ", "export ", "}"]
            .iter()
            .any(|start| line.starts_with(start))
            .then(|| line.split_once(" from ").map(|(_, rest)| rest))
            .flatten();
        let specifier = bare
            .or(from)?
            .trim_end_matches(';')
            .trim_matches(['\'', '"']);
        specifier.starts_with('.').then_some(specifier)
    })
}

/// `import` resolved against the path of the module that names it.
fn resolve(from: &str, import: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in import.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    parts.join("/")
}

#[tokio::test]
async fn the_page_shows_its_token_field_when_the_server_requires_tokens() {
    let app = spawn_app_with(Backend::Sqlite, with_tokens).await;
    let page = app.client.get(app.url("/")).send().await.expect("GET /");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .expect("the page")
            .contains("data-auth=\"on\"")
    );
}

#[tokio::test]
async fn switched_off_the_page_is_a_json_404() {
    let app = spawn_app_with(Backend::Sqlite, |settings| settings.upload_page = false).await;
    for path in ["/", "/ui/page.js", "/ui/client/upload.js"] {
        let answer = app.client.get(app.url(path)).send().await.expect("GET");
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = answer.json().await.expect("JSON");
        assert_eq!(body["code"], "not-found");
    }
}
