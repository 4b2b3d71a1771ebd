//! Backends: where a matched, authorised, transformed request goes.
//!
//! `call` runs after every request policy; its response then gets the route's response header
//! transformations. Failures come back as [`Rejection`]s (502 connection / function failure,
//! 504 timeout, 413 body too large) so they share the gateway's error shape.

pub(crate) mod client_body;
pub(crate) mod forwarded;
pub(crate) mod function;
pub(crate) mod h1_pool;
pub(crate) mod http;
pub(crate) mod read_timeout;
pub(crate) mod stock;

use std::net::IpAddr;

use ::http::Response;
use axum::body::Body;

use crate::context::{ContextVar, RequestContext};
use crate::respond::Rejection;

pub(crate) enum Backend {
    Stock(stock::StockBackend),
    Http(Box<http::HttpBackend>),
    Function(function::FunctionBackend),
    Dynamic(DynamicBackend),
}

/// `DYNAMIC_ROUTING_BACKEND`: picks a backend by a context variable.
pub(crate) struct DynamicBackend {
    pub selector: ContextVar,
    pub keys: Vec<(fngate_spec::DynamicSelectionKey, Backend)>,
    /// Index into `keys` of the `isDefault` entry.
    pub default: Option<usize>,
}

/// The request as backends see it, after all request policies.
pub(crate) struct Outbound<'a> {
    pub parts: ::http::request::Parts,
    pub body: Body,
    pub ctx: &'a RequestContext<'a>,
    /// Query string after transformations (raw, without `?`).
    pub query: String,
    /// Path prefix + request path (as received).
    pub full_path: &'a str,
    pub client_ip: IpAddr,
    /// `opc-request-id`, also sent back to the client.
    pub request_id: &'a ::http::HeaderValue,
    pub scheme: &'static str,
}

impl Backend {
    pub fn type_name(&self) -> &'static str {
        match self {
            Backend::Stock(_) => "STOCK_RESPONSE_BACKEND",
            Backend::Http(_) => "HTTP_BACKEND",
            Backend::Function(_) => "ORACLE_FUNCTIONS_BACKEND",
            Backend::Dynamic(_) => "DYNAMIC_ROUTING_BACKEND",
        }
    }

    /// Whether calling this backend reads context variables (a dynamic selector, or an HTTP URL
    /// path with variables in it).
    pub fn reads_context(&self) -> bool {
        match self {
            Backend::Stock(_) | Backend::Function(_) => false,
            Backend::Http(http) => http.path.as_literal().is_none(),
            Backend::Dynamic(_) => true,
        }
    }

    /// Resolves dynamic routing down to a concrete backend.
    pub fn select<'b>(&'b self, ctx: &RequestContext<'_>) -> Result<&'b Backend, Rejection> {
        match self {
            Backend::Dynamic(dynamic) => {
                let value = ctx.value(&dynamic.selector);
                let chosen = dynamic
                    .keys
                    .iter()
                    .find(|(key, _)| key.matches(&value))
                    .or_else(|| dynamic.default.and_then(|i| dynamic.keys.get(i)));
                match chosen {
                    Some((_, backend)) => backend.select(ctx),
                    None => Err(Rejection::new(::http::StatusCode::NOT_FOUND, "no_dynamic_backend")),
                }
            }
            other => Ok(other),
        }
    }

    pub async fn call(
        &self,
        outbound: Outbound<'_>,
        invoker: &dyn fngate_invoke::FunctionInvoker,
    ) -> Result<Response<Body>, Rejection> {
        match self.select(outbound.ctx)? {
            Backend::Stock(stock) => Ok(stock.respond()),
            Backend::Http(http) => http.forward(outbound).await,
            Backend::Function(function) => function.invoke(outbound, invoker).await,
            Backend::Dynamic(_) => Err(Rejection::new(
                ::http::StatusCode::INTERNAL_SERVER_ERROR,
                "dynamic_loop",
            )),
        }
    }
}

/// The proxy rule for hop-by-hop headers (fngate-http's [`HopByHop::Proxy`](fngate_http::HopByHop)),
/// applied to everything the gateway forwards, either way.
pub(crate) fn strip_hop_by_hop(headers: &mut ::http::HeaderMap) {
    fngate_http::strip_hop_by_hop(headers, fngate_http::HopByHop::Proxy);
}
