//! The device code flow (RFC 8628 as Entra runs it): `POST /{tenant}/oauth2/v2.0/devicecode`
//! (v1 `/{tenant}/oauth2/devicecode`) hands out a device code and a user code; the user opens
//! `/devicelogin` on this IdP, enters the user code, signs in and consents; the device polls
//! the token endpoint with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
//!
//! Pending device codes live in memory (15 minutes each, as Entra's `expires_in` 900).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::json;

use crate::error::{EntraError, json_body, no_store};
use crate::refresh::Chain;
use crate::scopes::{self, Requested};
use crate::server::ConnInfo;
use crate::session::random_token;
use crate::token::{ClientCheck, Endpoint, TokenRequest};
use crate::user_token::{self, SignedIn};
use crate::{Idp, discovery};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// What ADAL and v1 clients send.
pub const GRANT_TYPE_V1: &str = "device_code";

const LIFETIME: Duration = Duration::from_secs(900);
const MAX_PENDING: usize = 10_000;
/// User codes: upper-case letters and digits without look-alikes (0/O, 1/I/L), 9 long as Entra's.
const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const USER_CODE_LEN: usize = 9;

#[derive(Clone, Debug)]
pub enum DeviceState {
    Pending,
    Approved { user_id: String, auth_time: i64 },
    Declined,
    Failed(EntraError),
    Redeemed,
}

#[derive(Clone, Debug)]
pub struct Device {
    pub tenant_id: String,
    pub client_id: String,
    pub requested: Requested,
    pub user_code: String,
    pub v1: bool,
    pub state: DeviceState,
    expires: Instant,
}

#[derive(Default)]
pub struct Devices {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// device code -> device.
    by_code: HashMap<String, Device>,
    /// user code -> device code.
    by_user_code: HashMap<String, String>,
}

fn user_code() -> String {
    let mut rng = rand::rng();
    (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// What a user typed, as stored: upper case, no spaces or dashes.
fn normalise(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

impl Devices {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start(&self, tenant_id: String, client_id: String, requested: Requested, v1: bool) -> Option<(String, String)> {
        let mut inner = self.lock();
        let now = Instant::now();
        if inner.by_code.len() >= MAX_PENDING {
            inner.by_code.retain(|_, d| d.expires > now);
            let live: std::collections::HashSet<String> = inner.by_code.values().map(|d| d.user_code.clone()).collect();
            inner.by_user_code.retain(|code, _| live.contains(code));
            if inner.by_code.len() >= MAX_PENDING {
                return None;
            }
        }
        let mut code = user_code();
        while inner.by_user_code.contains_key(&code) {
            code = user_code();
        }
        let device_code = format!("DAQABAAEAAA{}{}", random_token(), random_token());
        inner.by_user_code.insert(code.clone(), device_code.clone());
        inner.by_code.insert(
            device_code.clone(),
            Device {
                tenant_id,
                client_id,
                requested,
                user_code: code.clone(),
                v1,
                state: DeviceState::Pending,
                expires: now + LIFETIME,
            },
        );
        Some((device_code, code))
    }

    /// The pending device a typed user code names, with its device code.
    pub fn by_user_code(&self, typed: &str) -> Option<(String, Device)> {
        let inner = self.lock();
        let device_code = inner.by_user_code.get(&normalise(typed))?;
        let device = inner.by_code.get(device_code)?;
        (device.expires > Instant::now() && matches!(device.state, DeviceState::Pending))
            .then(|| (device_code.clone(), device.clone()))
    }

    /// Records the end of the user's part (approved, declined or failed); false when the code
    /// expired or was already settled meanwhile.
    pub fn settle(&self, device_code: &str, state: DeviceState) -> bool {
        let mut inner = self.lock();
        let Some(device) = inner.by_code.get_mut(device_code) else {
            return false;
        };
        if device.expires <= Instant::now() || !matches!(device.state, DeviceState::Pending) {
            return false;
        }
        device.state = state;
        let code = device.user_code.clone();
        inner.by_user_code.remove(&code);
        true
    }

    /// A poll: the device and its state, which turns to Redeemed when it was Approved.
    fn poll(&self, device_code: &str) -> Option<(Device, bool)> {
        let mut inner = self.lock();
        let device = inner.by_code.get_mut(device_code)?;
        let expired = device.expires <= Instant::now();
        let seen = device.clone();
        if matches!(device.state, DeviceState::Approved { .. }) && !expired {
            device.state = DeviceState::Redeemed;
        }
        Some((seen, expired))
    }
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub async fn devicecode_v2(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    Path(tenant): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = discovery::base_url(&conn, &headers, &uri);
    devicecode(&idp, &tenant, &base, &method, &headers, &body, Endpoint::V2)
}

/// `POST /{tenant}/oauth2/devicecode` (v1: `resource=`).
pub async fn devicecode_v1(
    State(idp): State<Arc<Idp>>,
    Extension(conn): Extension<ConnInfo>,
    Path(tenant): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = discovery::base_url(&conn, &headers, &uri);
    devicecode(&idp, &tenant, &base, &method, &headers, &body, Endpoint::V1)
}

fn devicecode(
    idp: &Idp,
    tenant: &str,
    base: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: Endpoint,
) -> Response {
    let mut response = match start(idp, tenant, base, method, body, endpoint) {
        Ok(body) => {
            let mut response = (StatusCode::OK, json_body(body.to_string())).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(err) => err.into_response_for(headers),
    };
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

fn start(
    idp: &Idp,
    tenant_ref: &str,
    base: &str,
    method: &Method,
    body: &[u8],
    endpoint: Endpoint,
) -> Result<serde_json::Value, EntraError> {
    if method != Method::POST {
        return Err(EntraError::post_only(method.as_str()));
    }
    let registry = idp.registry();
    let tenant = registry
        .tenant(tenant_ref)
        .ok_or_else(|| EntraError::unknown_tenant(tenant_ref))?;
    let mut client_id = None;
    let mut scope = None;
    let mut resource = None;
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "client_id" => &mut client_id,
            "scope" => &mut scope,
            "resource" => &mut resource,
            _ => continue,
        };
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.into_owned());
        }
    }
    let client_id = client_id.ok_or_else(|| EntraError::missing_parameter("client_id"))?;
    let client = registry
        .client(&client_id)
        .filter(|c| c.tenant_id == tenant.id)
        .ok_or_else(|| EntraError::unknown_client(&client_id, &tenant.id))?;
    let requested = match endpoint {
        Endpoint::V2 => scopes::parse_v2(
            &registry,
            tenant,
            scope.as_deref().ok_or_else(|| EntraError::missing_parameter("scope"))?,
        )?,
        Endpoint::V1 => scopes::parse_v1(&registry, tenant, resource.as_deref(), scope.as_deref())?,
    };
    let (device_code, user_code) = idp
        .devices
        .start(
            tenant.id.clone(),
            client.client_id.clone(),
            requested,
            endpoint == Endpoint::V1,
        )
        .ok_or_else(|| EntraError::server_error("too many device codes pending; try again later"))?;
    let verification_uri = format!("{base}/devicelogin");
    let interval = idp.options().device_poll_interval.as_secs().max(1);
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": LIFETIME.as_secs(),
        "interval": interval,
        "message": format!(
            "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to \
             authenticate."
        ),
    }))
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (v1: `device_code` with `code=`).
pub async fn grant(req: &TokenRequest<'_>) -> Result<serde_json::Value, EntraError> {
    let device_code = req
        .form
        .device_code
        .as_deref()
        .or(req.form.code.as_deref())
        .ok_or_else(|| EntraError::missing_parameter("device_code"))?;
    let (device, expired) = req
        .idp
        .devices
        .poll(device_code)
        .ok_or_else(|| EntraError::bad_grant("the device code is not one this IdP issued."))?;
    if device.client_id != req.client.client_id || device.tenant_id != req.tenant.id {
        return Err(EntraError::bad_grant(
            "the device code was issued to another client or tenant.",
        ));
    }
    let acr = req.check_client(ClientCheck::Device)?;
    if expired {
        return Err(EntraError::device_code_expired());
    }
    let (user_id, auth_time) = match device.state {
        DeviceState::Pending => return Err(EntraError::authorization_pending()),
        DeviceState::Declined => return Err(EntraError::authorization_declined()),
        DeviceState::Failed(err) => return Err(err),
        DeviceState::Redeemed => return Err(EntraError::code_redeemed()),
        DeviceState::Approved { user_id, auth_time } => (user_id, auth_time),
    };
    let user = req
        .registry
        .user(&user_id)
        .ok_or_else(|| EntraError::bad_grant("the user who signed in no longer exists."))?;
    let who = SignedIn {
        tenant: &req.tenant,
        user,
        client: &req.client,
        requested: &device.requested,
        nonce: None,
        auth_time,
        client_acr: acr,
        v1_endpoint: device.v1,
        client_info: req.form.client_info,
    };
    user_token::respond(req.idp, req.registry, &who, Chain::New { spa: false }).await
}
