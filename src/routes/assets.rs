//! The stylesheet, the script and the icon under `/static/`. They are built into
//! the binary, so the binary is all a deployment needs; `--static-dir` serves a
//! folder instead (say, a restyled copy of `static/`).

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "css/tessera.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/css/tessera.css"),
    },
    Asset {
        path: "js/tessera.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/js/tessera.js"),
    },
    Asset {
        path: "js/passkeys.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/js/passkeys.js"),
    },
    Asset {
        path: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../static/favicon.svg"),
    },
];

/// Each asset's entity tag: its CRC32, which changes with every edit of the file.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{:08x}\"", crc32fast::hash(a.body)))
        .collect()
});

/// `GET /favicon.ico`, which browsers and feed readers ask for whatever the
/// page says: the icon is an SVG, so they are sent to it for good.
pub async fn favicon() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/static/favicon.svg"))
        .finish()
}

/// `GET /static/{path}` from the built-in copies. Browsers revalidate (no-cache)
/// and get a bodiless 304 while the file is unchanged, so an upgrade is seen at
/// once.
pub async fn builtin_asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(index) = ASSETS.iter().position(|a| a.path == path.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    let etag = &ETAGS[index];
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag));
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if unchanged {
        return res.finish();
    }
    res.content_type(ASSETS[index].content_type)
        .body(ASSETS[index].body)
}
