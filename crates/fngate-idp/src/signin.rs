//! The sign-in steps after the authorization request (or device code) was accepted: password,
//! then consent when the user has not yet consented to what the app asks, then the end: a
//! redirect with a code, or the device code approved. Also the `/devicelogin` code entry.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use time::OffsetDateTime;

use crate::authorize::{redirect, redirect_error};
use crate::code::CodeGrant;
use crate::device::DeviceState;
use crate::error::EntraError;
use crate::registry::{Registry, User};
use crate::scopes::Requested;
use crate::server::ConnInfo;
use crate::session::{MAX_PASSWORD_FAILURES, Pending, Purpose, Refused};
use crate::signin_page::{self as pages, ConsentForm, SignInForm, error_page, page, page_to};
use crate::user_token::check_assignment;
use crate::{Idp, password};

fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        out.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    out
}

/// Where the form posts of this sign-in may end up (the app's redirect URI), for the CSP.
fn redirect_target(pending: &Pending) -> Option<&str> {
    match &pending.purpose {
        Purpose::Authorize(request) => Some(request.redirect_uri.as_str()),
        Purpose::Device { .. } => None,
    }
}

fn app_name(registry: &Registry, client_id: &str) -> String {
    registry
        .client(client_id)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| client_id.to_string())
}

/// Starts a sign-in and shows its first page.
pub fn begin(idp: &Idp, pending: Pending, secure: bool) -> Response {
    let registry = idp.registry();
    let app = app_name(&registry, &pending.client_id);
    let hint = pending.login_hint.clone();
    let target = redirect_target(&pending).map(str::to_string);
    let Some((tx, form_token, cookie)) = idp.signins.start(pending, secure) else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            50196,
            "Too many sign-ins are in progress on this IdP; try again in a few minutes.",
        );
    };
    let body = pages::sign_in(&SignInForm {
        tx: &tx,
        form_token: &form_token,
        app_name: &app,
        user_name: &hint,
        error: None,
    });
    page_to(
        StatusCode::OK,
        "Sign in to your account",
        &body,
        Some(&cookie),
        target.as_deref(),
    )
}

fn refused(why: Refused) -> Response {
    match why {
        Refused::Expired => {
            let err = EntraError::flow_expired();
            error_page(StatusCode::BAD_REQUEST, err.code, &err.message)
        }
        Refused::Forgery => page(
            StatusCode::FORBIDDEN,
            "Sign in - error",
            "<h1>Sign-in refused</h1><p class=\"error\" id=\"error\">This form was not sent by the sign-in page \
             in this browser (its form token or sign-in cookie is missing or wrong). Start the sign-in again from \
             the application.</p>",
            None,
        ),
    }
}

/// `POST /signin/password`: `tx`, `form_token`, `username`, `password`.
pub async fn password_post(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let get = |name: &str| f.get(name).map(String::as_str).unwrap_or_default();
    let tx = get("tx");
    let mut pending = match idp.signins.take_post(tx, get("form_token"), &headers) {
        Ok(pending) => pending,
        Err(why) => return refused(why),
    };
    let registry = idp.registry_full();
    let user_name = get("username").trim().to_string();
    let user = registry.user_by_sign_in(&pending.tenant_id, &user_name).cloned();
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        // An unknown name is checked against a hash of a random value, so it costs as long as
        // a wrong password (no user enumeration by timing).
        .unwrap_or_else(|| idp.dummy_hash.clone());
    let matched = {
        let _permit = idp.password_checks.acquire().await;
        password::verify(get("password").to_string(), stored).await
    } && user.is_some();
    let app = app_name(&registry, &pending.client_id);
    let Some(user) = user.filter(|_| matched) else {
        pending.password_failures += 1;
        if pending.password_failures >= MAX_PASSWORD_FAILURES {
            idp.signins.finish(tx);
            return error_page(
                StatusCode::BAD_REQUEST,
                50053,
                "You've tried to sign in too many times with an incorrect user ID or password. Start the sign-in \
                 again from the application.",
            );
        }
        idp.signins.update(tx, &pending);
        let err = EntraError::bad_password();
        let message = format!(
            "Your account or password is incorrect. (AADSTS{}: {})",
            err.code, err.message
        );
        let body = pages::sign_in(&SignInForm {
            tx,
            form_token: pending.form_token(),
            app_name: &app,
            user_name: &user_name,
            error: Some(&message),
        });
        return page_to(
            StatusCode::OK,
            "Sign in to your account",
            &body,
            None,
            redirect_target(&pending),
        );
    };
    pending.user_id = Some(user.object_id.clone());
    pending.auth_time = OffsetDateTime::now_utc().unix_timestamp();
    idp.signins.update(tx, &pending);
    if let Some(api) = pending.requested.api(&registry, &pending.tenant_id)
        && let Err(err) = check_assignment(&user, api)
    {
        idp.signins.finish(tx);
        return fail(&idp, &pending, &err);
    }
    let missing = missing_consent(&registry, &user, &pending);
    if missing.is_empty() {
        idp.signins.finish(tx);
        return complete(&idp, &pending, &user, &app);
    }
    let body = pages::consent(&ConsentForm {
        tx,
        form_token: pending.form_token(),
        app_name: &app,
        user: &user.upn,
        permissions: &describe(&registry, &pending.tenant_id, &pending.requested),
    });
    page_to(
        StatusCode::OK,
        "Permissions requested",
        &body,
        None,
        redirect_target(&pending),
    )
}

/// `POST /signin/consent`: `tx`, `form_token`, `decision` (`accept` or `decline`).
pub async fn consent_post(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let get = |name: &str| f.get(name).map(String::as_str).unwrap_or_default();
    let tx = get("tx");
    let pending = match idp.signins.take_post(tx, get("form_token"), &headers) {
        Ok(pending) => pending,
        Err(why) => return refused(why),
    };
    let Some(user_id) = pending.user_id.clone() else {
        // Consent before the password: not a page this IdP showed.
        return refused(Refused::Forgery);
    };
    idp.signins.finish(tx);
    if get("decision") != "accept" {
        return fail(&idp, &pending, &EntraError::consent_declined());
    }
    let requested = &pending.requested;
    let mut consent = vec![("openid".to_string(), requested.oidc.clone())];
    if let Some(api_id) = &requested.api_id {
        consent.push((api_id.clone(), requested.api_scopes.clone()));
    }
    if let Err(err) = idp.record_consent(&user_id, &pending.client_id, &consent).await {
        tracing::error!(error = %err, "cannot record consent");
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            50000,
            "The consent could not be recorded.",
        );
    }
    let registry = idp.registry_full();
    let Some(user) = registry.user(&user_id).cloned() else {
        return refused(Refused::Expired);
    };
    let app = app_name(&registry, &pending.client_id);
    complete(&idp, &pending, &user, &app)
}

/// Scopes asked for that the user has not consented to for this client (per resource: the
/// API's client id, or `openid` for the OIDC scopes).
fn missing_consent(registry: &Registry, user: &User, pending: &Pending) -> Vec<String> {
    let mut missing = Vec::new();
    let requested = &pending.requested;
    if let Some(api_id) = &requested.api_id {
        let consented = registry.consented(&user.object_id, &pending.client_id, api_id);
        missing.extend(requested.api_scopes.iter().filter(|s| !consented.contains(s)).cloned());
    }
    let consented = registry.consented(&user.object_id, &pending.client_id, "openid");
    missing.extend(requested.oidc.iter().filter(|s| !consented.contains(s)).cloned());
    missing
}

/// What the consent page lists.
fn describe(registry: &Registry, tenant_id: &str, requested: &Requested) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(api) = requested.api(registry, tenant_id) {
        for scope in &requested.api_scopes {
            out.push(format!("{scope} ({}, {})", api.name, api.identifier_uri));
        }
    }
    for scope in &requested.oidc {
        out.push(
            match scope.as_str() {
                "openid" => "Sign you in (openid)",
                "profile" => "View your basic profile (profile)",
                "email" => "View your email address (email)",
                _ => "Maintain access to data you have given it access to (offline_access)",
            }
            .to_string(),
        );
    }
    out
}

/// The sign-in ended in an error the app must hear about.
fn fail(idp: &Idp, pending: &Pending, err: &EntraError) -> Response {
    match &pending.purpose {
        Purpose::Authorize(request) => redirect_error(request, err),
        Purpose::Device { device_key } if err.code == EntraError::consent_declined().code => {
            idp.devices.settle(device_key, DeviceState::Declined);
            page(StatusCode::OK, "Sign-in declined", &pages::device_done("", false), None)
        }
        Purpose::Device { device_key } => {
            idp.devices.settle(device_key, DeviceState::Failed(err.clone()));
            error_page(StatusCode::BAD_REQUEST, err.code, &err.message)
        }
    }
}

/// The user signed in and consented: a code for the app, or the device approved.
fn complete(idp: &Idp, pending: &Pending, user: &User, app: &str) -> Response {
    match &pending.purpose {
        Purpose::Authorize(request) => {
            let grant = CodeGrant {
                tenant_id: pending.tenant_id.clone(),
                client_id: pending.client_id.clone(),
                user_id: user.object_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                platform: request.platform,
                requested: pending.requested.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                auth_time: pending.auth_time,
            };
            match idp.codes.issue(grant) {
                Some(code) => redirect(request, vec![("code", code)]),
                None => redirect_error(
                    request,
                    &EntraError::server_error("too many authorization codes outstanding; try again later"),
                ),
            }
        }
        Purpose::Device { device_key } => {
            let approved = DeviceState::Approved {
                user_id: user.object_id.clone(),
                auth_time: pending.auth_time,
            };
            if !idp.devices.settle(device_key, approved) {
                let err = EntraError::device_code_expired();
                return error_page(StatusCode::BAD_REQUEST, err.code, &err.message);
            }
            page(StatusCode::OK, "Signed in", &pages::device_done(app, true), None)
        }
    }
}

/// `GET /devicelogin`: the code entry page.
pub async fn devicelogin_get() -> Response {
    page(StatusCode::OK, "Enter code", &pages::device_code_entry(None), None)
}

/// `POST /devicelogin`: `otc` (the user code). Creates nothing but a sign-in for that code, so
/// it needs no CSRF token; the sign-in's own steps have theirs.
pub async fn devicelogin_post(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let typed = f.get("otc").map(String::as_str).unwrap_or_default();
    let Some((device_key, device)) = idp.devices.by_user_code(typed) else {
        let body = pages::device_code_entry(Some(
            "That code didn't work. Check the code and try again (AADSTS70018: invalid or expired user code).",
        ));
        return page(StatusCode::OK, "Enter code", &body, None);
    };
    let pending = Pending::new(
        device.tenant_id.clone(),
        device.client_id.clone(),
        device.requested.clone(),
        Purpose::Device { device_key },
        String::new(),
    );
    begin(&idp, pending, conn.scheme == "https")
}
