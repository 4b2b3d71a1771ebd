//! The local certificate authority behind the IdP's HTTPS: generated once, persisted in the data
//! directory (`idp/ca.pem`, key `idp/ca-key.pem` mode 0600) so clients can trust it for good.
//! The server certificate is issued from it at every start for the names the listener answers to.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

pub const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
const CA_COMMON_NAME: &str = "fngate local development CA";

pub struct LocalCa {
    pub cert_path: PathBuf,
    pub cert_pem: String,
    cert_der: CertificateDer<'static>,
    key: KeyPair,
}

/// The CA's subject and usages; rebuilt identically at each start, so issued certificates chain
/// to the persisted CA certificate.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "fngate");
    name.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl LocalCa {
    /// Loads the CA from `dir`, creating it on first use.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<LocalCa> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if !cert_path.exists() || !key_path.exists() {
            let key = KeyPair::generate().context("cannot generate the CA key")?;
            let mut params = ca_params();
            let now = OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::days(1);
            params.not_after = now + time::Duration::days(10 * 365);
            let cert = params.self_signed(&key).context("cannot sign the CA certificate")?;
            write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
        }
        let key_pem =
            std::fs::read_to_string(&key_path).with_context(|| format!("cannot read {}", key_path.display()))?;
        let key =
            KeyPair::from_pem(&key_pem).with_context(|| format!("{}: not a usable private key", key_path.display()))?;
        let cert_pem =
            std::fs::read_to_string(&cert_path).with_context(|| format!("cannot read {}", cert_path.display()))?;
        let cert_der = rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
            .with_context(|| format!("{}: not a PEM certificate", cert_path.display()))?;
        Ok(LocalCa {
            cert_path,
            cert_pem,
            cert_der,
            key,
        })
    }

    /// A TLS server configuration with a fresh certificate for `localhost`, the loopback
    /// addresses and `extra_ip` (the listener's own address), chained to this CA.
    pub fn server_config(&self, extra_ip: Option<IpAddr>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        if let Some(ip) = extra_ip.filter(|ip| !ip.is_unspecified()) {
            let ip = ip.to_string();
            if !names.contains(&ip) {
                names.push(ip);
            }
        }
        let mut params = CertificateParams::new(names).context("server certificate names")?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(365);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().context("cannot generate the server key")?;
        let issuer = Issuer::new(ca_params(), &self.key);
        let leaf = params
            .signed_by(&leaf_key, &issuer)
            .context("cannot issue the server certificate")?;
        let chain = vec![leaf.der().clone(), self.cert_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .context("TLS protocol versions")?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .context("server certificate and key do not match")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
