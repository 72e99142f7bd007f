//! The upload page at `/`: a small web app on the JavaScript client that
//! uploads dropped files and hands back download links. Its files are
//! embedded at build time, so serving it needs nothing beside `ferryd`.

use actix_web::body::MessageBody;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::owner::Gatekeeper;
use super::resource;

/// The page may run its own scripts and compile the hashing worker's
/// WebAssembly, talk to this origin only, and nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     worker-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The page's HTML; `data-auth="off"` becomes `"on"` when tokens are required.
const INDEX: &str = include_str!("../../clients/js/page/index.html");

/// One embedded file of the page.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// A file of the client package, served under `/ui/client/`.
macro_rules! client_file {
    ($path:literal) => {
        Asset {
            path: concat!("/ui/client/", $path),
            content_type: JAVASCRIPT,
            body: include_str!(concat!("../../clients/js/src/", $path)),
        }
    };
}

/// Every file the page loads besides its HTML.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/ui/page.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../clients/js/page/page.css"),
    },
    Asset {
        path: "/ui/page.js",
        content_type: JAVASCRIPT,
        body: include_str!("../../clients/js/page/page.js"),
    },
    client_file!("index.js"),
    client_file!("upload.js"),
    client_file!("errors.js"),
    client_file!("files.js"),
    client_file!("cutter.js"),
    client_file!("retry.js"),
    client_file!("progress.js"),
    client_file!("plan.js"),
    client_file!("sha256.js"),
    client_file!("hash-worker.js"),
    client_file!("platforms/browser.js"),
    client_file!("platforms/fetch.js"),
    client_file!("platforms/wechat.js"),
    client_file!("platforms/wasm-sha256.js"),
    client_file!("vendor/hash-wasm-sha256.umd.min.js"),
];

/// Registers `/` and the page's files.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/", "GET").route(web::get().to(index)));
    for asset in ASSETS {
        cfg.service(resource(asset.path, "GET").route(
            web::get().to(move || async move { page_answer(asset.content_type, asset.body) }),
        ));
    }
}

async fn index(gatekeeper: web::Data<Gatekeeper>) -> HttpResponse {
    let html = if gatekeeper.requires_tokens() {
        INDEX.replacen("data-auth=\"off\"", "data-auth=\"on\"", 1)
    } else {
        INDEX.to_owned()
    };
    page_answer("text/html; charset=utf-8", html)
}

fn page_answer(content_type: &'static str, body: impl MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let embedded: Vec<&str> = ASSETS.iter().map(|asset| asset.path).collect();
        for asset in ASSETS
            .iter()
            .filter(|asset| asset.content_type == JAVASCRIPT)
        {
            let folder = &asset.path[..asset.path.rfind('/').unwrap_or(0)];
            for line in asset.body.lines() {
                let Some(start) = line
                    .find(" from '")
                    .map(|at| at + 7)
                    .or_else(|| line.strip_prefix("import '").map(|_| "import '".len()))
                else {
                    continue;
                };
                let Some(end) = line[start..].find('\'') else {
                    continue;
                };
                let target = resolve(folder, &line[start..start + end]);
                assert!(
                    embedded.contains(&target.as_str()),
                    "{} imports {target}, which the page does not serve",
                    asset.path
                );
            }
        }
    }

    /// `relative` (./x or ../x) resolved against `folder`.
    fn resolve(folder: &str, relative: &str) -> String {
        let mut parts: Vec<&str> = folder.split('/').filter(|part| !part.is_empty()).collect();
        for piece in relative.split('/') {
            match piece {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        format!("/{}", parts.join("/"))
    }
}
