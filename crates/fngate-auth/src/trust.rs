//! Which certificate authorities JWKS and discovery fetches trust: the system's store always
//! (rustls-platform-verifier), plus CAs the server is told about: its own IdP's local CA and any
//! `--trust-ca` bundle.

use std::path::Path;

/// Extra trust anchors for key fetches, merged with the system store.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoots {
    certs: Vec<reqwest::Certificate>,
    /// Where each group of anchors came from (for the start-up log).
    sources: Vec<String>,
}

impl TrustedRoots {
    /// Adds every certificate of the PEM bundle at `path`. Fails, naming the file, when it cannot
    /// be read, holds no certificate, or holds one TLS cannot use as an anchor.
    pub fn add_pem_file(&mut self, path: &Path) -> Result<usize, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        self.add_pem(&pem, &path.display().to_string())
    }

    /// Adds every certificate of a PEM bundle; `source` names it in errors.
    pub fn add_pem(&mut self, pem: &[u8], source: &str) -> Result<usize, String> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("{source}: not a PEM certificate bundle: {e}"))?;
        if certs.is_empty() {
            return Err(format!(
                "{source}: no certificate (expected PEM '-----BEGIN CERTIFICATE-----' blocks)"
            ));
        }
        // Building a client is where TLS parses the anchors: fail now, naming the file, rather
        // than at the first deployment that fetches keys.
        reqwest::Client::builder()
            .tls_certs_merge(certs.clone())
            .build()
            .map_err(|e| format!("{source}: unusable as a trust anchor: {}", fngate_http::error_chain(&e)))?;
        let count = certs.len();
        self.certs.extend(certs);
        self.sources.push(source.to_owned());
        Ok(count)
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The files (or other sources) the anchors came from.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    pub(crate) fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        if self.certs.is_empty() {
            builder
        } else {
            builder.tls_certs_merge(self.certs.clone())
        }
    }
}
