//! The HTML pages of the sign-in flows: sign-in form, consent, device-code entry, errors, the
//! form_post hand-back. Plain HTML, no external assets, every value escaped; served with a CSP
//! that allows nothing but inline styles and forms posting back here, and `X-Frame-Options: DENY`
//! (no clickjacking of the sign-in or consent buttons).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// CSP of every page but the form_post hand-back (which must post to the app).
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// The CSP source naming where a redirect URI points: its origin, or `scheme:` for a custom
/// scheme (`myapp://auth`), which has no origin.
pub fn csp_source(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(url) if url.origin().is_tuple() => url.origin().ascii_serialization(),
        Ok(url) => format!("{}:", url.scheme()),
        Err(_) => "'none'".into(),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f2f2f2;margin:0}\
main{max-width:440px;margin:8vh auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
h1{font-size:1.5rem;font-weight:600;margin:0 0 16px}label{display:block;margin:12px 0 4px}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:6px;font-size:1rem}\
button{margin:20px 8px 0 0;padding:6px 24px;font-size:1rem}.error{color:#a4262c}\
.app{color:#555}ul{padding-left:20px}small{color:#666}";

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// Security headers every page carries; `no-store` so a sign-in form never comes from a cache.
fn secure(headers: &mut HeaderMap, csp: &str) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(value) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// A page response; `cookie` is a `Set-Cookie` value.
pub fn page(status: StatusCode, title: &str, body: &str, cookie: Option<&str>) -> Response {
    page_to(status, title, body, cookie, None)
}

/// A page whose form's answer may redirect to the app at `redirect_uri`: browsers apply
/// `form-action` to the redirects after a form post too, so the app's origin is allowed.
pub fn page_to(
    status: StatusCode,
    title: &str,
    body: &str,
    cookie: Option<&str>,
    redirect_uri: Option<&str>,
) -> Response {
    let mut response = (status, document(title, body)).into_response();
    let headers = response.headers_mut();
    match redirect_uri {
        None => secure(headers, CSP),
        Some(uri) => secure(
            headers,
            &CSP.replace("form-action 'self'", &format!("form-action 'self' {}", csp_source(uri))),
        ),
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// An error shown to the user instead of redirecting (the redirect URI is not trusted, or there
/// is no app to return to). `code` is the AADSTS number.
pub fn error_page(status: StatusCode, code: u32, message: &str) -> Response {
    let body = format!(
        "<h1>Sorry, but we\u{2019}re having trouble signing you in.</h1><p class=\"error\" id=\"error\">AADSTS{code}: {}</p>\
         <p><small>fngate dev identity provider</small></p>",
        escape(message)
    );
    page(status, "Sign in - error", &body, None)
}

pub struct SignInForm<'a> {
    pub tx: &'a str,
    pub form_token: &'a str,
    pub app_name: &'a str,
    pub user_name: &'a str,
    pub error: Option<&'a str>,
}

pub fn sign_in(form: &SignInForm<'_>) -> String {
    let error = form
        .error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        "<h1>Sign in</h1><p class=\"app\">to continue to {app}</p>{error}\
         <form method=\"post\" action=\"/signin/password\">\
         <input type=\"hidden\" name=\"tx\" value=\"{tx}\"><input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
         <label for=\"username\">User name or email</label>\
         <input type=\"text\" id=\"username\" name=\"username\" value=\"{user}\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\" id=\"signin\">Sign in</button></form>",
        app = escape(form.app_name),
        tx = escape(form.tx),
        token = escape(form.form_token),
        user = escape(form.user_name),
    )
}

pub struct ConsentForm<'a> {
    pub tx: &'a str,
    pub form_token: &'a str,
    pub app_name: &'a str,
    pub user: &'a str,
    /// Human-readable permissions asked for.
    pub permissions: &'a [String],
}

pub fn consent(form: &ConsentForm<'_>) -> String {
    let items: String = form
        .permissions
        .iter()
        .map(|p| format!("<li>{}</li>", escape(p)))
        .collect();
    format!(
        "<h1>Permissions requested</h1><p class=\"app\">{app} wants to (signed in as {user}):</p><ul id=\"scopes\">{items}</ul>\
         <form method=\"post\" action=\"/signin/consent\">\
         <input type=\"hidden\" name=\"tx\" value=\"{tx}\"><input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
         <button type=\"submit\" name=\"decision\" value=\"accept\" id=\"accept\">Accept</button>\
         <button type=\"submit\" name=\"decision\" value=\"decline\" id=\"decline\">Cancel</button></form>",
        app = escape(form.app_name),
        user = escape(form.user),
        tx = escape(form.tx),
        token = escape(form.form_token),
    )
}

/// The device-code entry page (`/devicelogin`).
pub fn device_code_entry(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    "<h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>".to_string()
        + &error
        + "<form method=\"post\" action=\"/devicelogin\"><label for=\"otc\">Code</label>\
           <input type=\"text\" id=\"otc\" name=\"otc\" autocomplete=\"off\" required autofocus>\
           <button type=\"submit\" id=\"next\">Next</button></form>"
}

/// The last page of an approved or declined device sign-in.
pub fn device_done(app_name: &str, approved: bool) -> String {
    if approved {
        format!(
            "<h1 id=\"done\">You have signed in</h1><p>You have signed in to the {} application on your device. \
             You may now close this window.</p>",
            escape(app_name)
        )
    } else {
        "<h1 id=\"done\">Sign-in declined</h1><p>The application on your device was not signed in. You may now \
         close this window.</p>"
            .into()
    }
}

const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";

/// `response_mode=form_post`: a page that posts `params` to the app's redirect URI. Its CSP lets
/// the one inline script (by hash) run and the form post to that URI only.
pub fn form_post(redirect_uri: &str, params: &[(&str, String)]) -> Response {
    let inputs: String = params
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "<form method=\"post\" action=\"{}\">{inputs}<noscript><p>Script is disabled. Click Submit to continue.</p>\
         <button type=\"submit\">Submit</button></noscript></form><script>{FORM_POST_SCRIPT}</script>",
        escape(redirect_uri)
    );
    let hash = STANDARD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        FORM_POST_SCRIPT.as_bytes(),
    ));
    let target = csp_source(redirect_uri);
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; form-action {target}; \
         frame-ancestors 'none'"
    );
    let mut response = (StatusCode::OK, document("Working...", &body)).into_response();
    secure(response.headers_mut(), &csp);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let html = sign_in(&SignInForm {
            tx: "t",
            form_token: "f",
            app_name: "<script>alert(1)</script>",
            user_name: "\"><img>",
            error: None,
        });
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("\"><img>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }
}
