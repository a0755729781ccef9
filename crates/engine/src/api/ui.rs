//! The web interface: the files of `ui/dist`, built from `ui/` and embedded
//! in the binary at compile time, served at every path outside `/api/` so
//! that a browser (or the desktop app's window) gets the admin UI from the
//! engine itself. Unknown paths without a file extension get `index.html`
//! (the UI's own router handles them). The files are public; everything they
//! do goes through the API, which needs a login.
//!
//! A build made without the UI (no `ui/dist` when the engine was compiled)
//! answers with a short page in English and Russian saying how to build it.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

/// The built UI, embedded at compile time (absent if it was not built).
#[derive(Embed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Assets;

/// Whether this build carries the web interface.
pub fn available() -> bool {
    Assets::get("index.html").is_some()
}

/// The content type for a file name.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Headers that keep the UI from being framed by other sites or having
/// foreign scripts run in it.
fn harden(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

const NOT_BUILT: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Mailroom</title></head><body>\
<h1>Mailroom</h1>\
<p>The web interface is not part of this build of Mailroom. Build it with <code>scripts/build-ui</code>, \
then build mailroomd again. The admin API works without it: see <a href=\"/api/v1/openapi.json\">its description</a>.</p>\
<p lang=\"ru\">Веб-интерфейс не входит в эту сборку Mailroom. Соберите его командой <code>scripts/build-ui</code>, \
затем снова соберите mailroomd. API администрирования работает и без него: \
<a href=\"/api/v1/openapi.json\">описание API</a>.</p></body></html>";

/// Serves one UI file, `index.html` for the UI's own routes.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let (name, file) = match Assets::get(path) {
        Some(f) => (path, f),
        None if path == "index.html" || !path.rsplit('/').next().unwrap_or("").contains('.') => {
            match Assets::get("index.html") {
                Some(f) => ("index.html", f),
                None => {
                    let mut resp = (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT)
                        .into_response();
                    harden(&mut resp);
                    return resp;
                }
            }
        }
        None => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    // Hashed asset names never change; the page itself is always asked again.
    let cache = if name == "index.html" { "no-cache" } else { "public, max-age=31536000, immutable" };
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type(name)), (header::CACHE_CONTROL, cache)],
        file.data.into_owned(),
    )
        .into_response();
    harden(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/app-1a2b.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.woff2"), "font/woff2");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
