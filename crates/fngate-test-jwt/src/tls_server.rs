//! A JWKS server over HTTPS on `127.0.0.1:0` (certificate for `localhost`, issued by a throwaway
//! CA the test may or may not trust), which can also redirect: `GET /keys` serves the key set,
//! `GET /redirect?to=<url>` answers `302 Location: <url>`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::keys::TestKey;

pub struct TlsJwksServer {
    pub addr: SocketAddr,
    /// The CA that issued the server certificate (PEM): trust it to reach this server.
    pub ca_pem: String,
    hits: Arc<AtomicU64>,
    shutdown: CancellationToken,
}

#[derive(Clone)]
struct Served {
    jwks: Value,
    hits: Arc<AtomicU64>,
}

async fn keys(State(served): State<Served>) -> Response {
    served.hits.fetch_add(1, Ordering::SeqCst);
    axum::Json(served.jwks.clone()).into_response()
}

async fn redirect(Query(query): Query<std::collections::HashMap<String, String>>) -> Response {
    match query.get("to") {
        Some(to) => (StatusCode::FOUND, [(header::LOCATION, to.clone())]).into_response(),
        None => (StatusCode::BAD_REQUEST, "give ?to=<url>").into_response(),
    }
}

fn tls_config() -> (Arc<rustls::ServerConfig>, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name.push(DnType::CommonName, "fngate test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, &ca_key);
    let leaf_key = KeyPair::generate().expect("server key");
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("server names");
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("server certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), ca_cert.der().clone()], key)
            .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (Arc::new(config), ca_cert.pem())
}

impl TlsJwksServer {
    /// Serves `keys` at [`uri`](Self::uri)`("/keys")` until dropped.
    pub async fn start(keys_served: &[&TestKey]) -> TlsJwksServer {
        let (config, ca_pem) = tls_config();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let hits = Arc::new(AtomicU64::new(0));
        let served = Served {
            jwks: json!({"keys": keys_served.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}),
            hits: hits.clone(),
        };
        let app = axum::Router::new()
            .route("/keys", get(keys))
            .route("/redirect", get(redirect))
            .with_state(served);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    _ = stop.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(pair) => pair,
                        Err(_) => continue,
                    },
                };
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(app.clone());
                tokio::spawn(async move {
                    // A client that does not trust the CA aborts the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsJwksServer {
            addr,
            ca_pem,
            hits,
            shutdown,
        }
    }

    /// `https://localhost:<port><path>`.
    pub fn uri(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// A URI on this server that redirects to `to`.
    pub fn redirect_to(&self, to: &str) -> String {
        let mut url = url_with_path(&self.uri("/redirect"));
        url.query_pairs_mut().append_pair("to", to);
        url.to_string()
    }

    /// How many times `/keys` was served.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

fn url_with_path(text: &str) -> url::Url {
    url::Url::parse(text).expect("a valid URL")
}

impl Drop for TlsJwksServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
