//! Refresh tokens: random values, stored as SHA-256 only (`idp_refresh_tokens`), in chains
//! ("families") that start at a sign-in.
//!
//! As Entra: a single-page app's refresh token is single use and the chain ends 24 h after the
//! sign-in however often it is rotated; presenting a rotated-out token again revokes the whole
//! chain (it leaked). Other clients' refresh tokens are reusable and live 90 days from issue;
//! each refresh hands out a new one as well.

use aws_lc_rs::digest;
use axum::http::HeaderMap;
use fngate_store::idp as db;
use time::OffsetDateTime;

use crate::error::EntraError;
use crate::keys::{format_time, parse_time};
use crate::registry::Platform;
use crate::scopes;
use crate::session::random_token;
use crate::token::{ClientCheck, TokenRequest};
use crate::user_token::{self, SignedIn};

const SPA_LIFETIME: time::Duration = time::Duration::hours(24);
const DEFAULT_LIFETIME: time::Duration = time::Duration::days(90);

/// Where a new refresh token goes.
pub enum Chain {
    /// A sign-in just happened: a new chain, single use if the client is a SPA.
    New { spa: bool },
    /// A refresh: same chain; a SPA's keeps its end time. `scopes`: everything the chain was
    /// granted (a refresh asking for less does not narrow what later refreshes may ask).
    Continue {
        family: String,
        spa: bool,
        expires_at: OffsetDateTime,
        scopes: String,
    },
}

fn hash(value: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, value.as_bytes()))
}

/// Creates and stores a refresh token for `who`; returns its value (shown to the client only).
pub async fn issue(idp: &crate::Idp, who: &SignedIn<'_>, chain: Chain) -> Result<String, EntraError> {
    let now = OffsetDateTime::now_utc();
    let (family, spa, expires_at, scopes) = match chain {
        Chain::New { spa } => (
            random_token(),
            spa,
            now + if spa { SPA_LIFETIME } else { DEFAULT_LIFETIME },
            who.requested.to_scope_string(),
        ),
        Chain::Continue {
            family,
            spa: true,
            expires_at,
            scopes,
        } => (family, true, expires_at, scopes),
        Chain::Continue {
            family,
            spa: false,
            scopes,
            ..
        } => (family, false, now + DEFAULT_LIFETIME, scopes),
    };
    // Entra's refresh tokens are opaque; the prefix only makes them recognisable in logs.
    let value = format!("1.A{}{}", random_token(), random_token());
    let row = db::RefreshTokenRow {
        id: hash(&value),
        family,
        user_id: who.user.object_id.clone(),
        client_id: who.client.client_id.clone(),
        scopes,
        auth_time: who.auth_time,
        spa,
        created_at: format_time(now),
        expires_at: format_time(expires_at),
        redeemed_at: None,
    };
    db::insert_refresh_token(idp.store(), &row)
        .await
        .map_err(|err| EntraError::server_error(format!("cannot store the refresh token: {err}")))?;
    Ok(value)
}

/// `grant_type=refresh_token`.
pub async fn grant(req: &TokenRequest<'_>) -> Result<serde_json::Value, EntraError> {
    let presented = req
        .form
        .refresh_token
        .as_deref()
        .ok_or_else(|| EntraError::missing_parameter("refresh_token"))?;
    let store = req.idp.store();
    let row = db::find_refresh_token(store, &hash(presented))
        .await
        .map_err(|err| EntraError::server_error(format!("cannot read refresh tokens: {err}")))?
        .ok_or_else(|| EntraError::bad_grant("the refresh token is not one this IdP issued, or it was revoked."))?;
    if row.client_id != req.client.client_id {
        return Err(EntraError::bad_grant("the refresh token was issued to another client."));
    }
    let now = OffsetDateTime::now_utc();
    let expires_at = parse_time(&row.expires_at).map_err(|err| EntraError::server_error(err.to_string()))?;
    if expires_at <= now {
        return Err(EntraError::refresh_expired(row.spa));
    }
    // Client authentication: a SPA's tokens come back cross-origin from the browser; others
    // need the client's credential unless the client is public.
    let platform = if row.spa {
        Platform::Spa
    } else if req.client.public_client || req.client.redirect_uris.iter().any(|(_, p)| *p == Platform::Public) {
        Platform::Public
    } else {
        Platform::Web
    };
    let acr = req.check_client(ClientCheck::Platform(platform))?;
    let registry = req.registry;
    let user = registry
        .user(&row.user_id)
        .ok_or_else(|| EntraError::bad_grant("the user of this refresh token no longer exists."))?;
    let granted = scopes::parse_v2(registry, &req.tenant, &row.scopes)?;
    let requested = match (req.endpoint, req.form.scope.as_deref()) {
        (crate::token::Endpoint::V2, Some(scope)) => {
            let asked = scopes::parse_v2(registry, &req.tenant, scope)?;
            if !asked.within(&granted) {
                return Err(EntraError::consent_required(scope));
            }
            // offline_access stays granted for the rotation.
            let mut asked = asked;
            if !asked.has("offline_access") {
                asked.oidc.push("offline_access".into());
            }
            asked
        }
        _ => granted,
    };
    if row.spa {
        let at = format_time(now);
        let first = db::redeem_refresh_token(store, &row.id, &at)
            .await
            .map_err(|err| EntraError::server_error(format!("cannot update refresh tokens: {err}")))?;
        if !first {
            if let Err(err) = db::revoke_refresh_family(store, &row.family).await {
                tracing::error!(error = %err, "cannot revoke a replayed refresh token's chain");
            }
            return Err(EntraError::refresh_redeemed());
        }
    }
    let who = SignedIn {
        tenant: &req.tenant,
        user,
        client: &req.client,
        requested: &requested,
        nonce: None,
        auth_time: row.auth_time,
        client_acr: acr,
        v1_endpoint: req.endpoint == crate::token::Endpoint::V1,
        client_info: req.form.client_info,
    };
    let chain = Chain::Continue {
        family: row.family.clone(),
        spa: row.spa,
        expires_at,
        scopes: row.scopes.clone(),
    };
    user_token::respond(req.idp, registry, &who, chain).await
}

/// True when the request came cross-origin from a browser (a SPA's token requests must).
pub fn is_cross_origin(headers: &HeaderMap) -> bool {
    headers.contains_key(axum::http::header::ORIGIN)
}
