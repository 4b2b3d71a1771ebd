//! Certificates registered as client credentials: parsed once (at registration and at load),
//! kept as the thumbprints and the RSA public key the assertion check needs.

use aws_lc_rs::digest;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::IdpError;
use crate::registry::ClientCertificate;

/// OID of `rsaEncryption` (PKCS#1): the keys Entra takes for RS256 / PS256 assertions.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// Smallest RSA modulus accepted, in bits (Entra and aws-lc-rs verification alike).
const MIN_RSA_BITS: usize = 2048;

/// The DER of the single certificate in `pem` (a key or a chain is refused with the reason).
pub fn der_from_pem(pem: &str) -> Result<Vec<u8>, IdpError> {
    if pem.contains("PRIVATE KEY-----") {
        return Err(IdpError::Invalid(
            "certificate: this PEM holds a private key; register the certificate only (the private key stays with \
             the client)"
                .into(),
        ));
    }
    let mut certs = CertificateDer::pem_slice_iter(pem.as_bytes());
    let first = match certs.next() {
        Some(Ok(cert)) => cert,
        Some(Err(err)) => return Err(IdpError::Invalid(format!("certificate: not a PEM certificate ({err})"))),
        None => {
            return Err(IdpError::Invalid(
                "certificate: no '-----BEGIN CERTIFICATE-----' block found".into(),
            ));
        }
    };
    Ok(first.as_ref().to_vec())
}

/// What fngate keeps of a certificate; refuses anything but an RSA key of 2048 bits or more.
pub struct Parsed {
    pub sha1: Vec<u8>,
    pub sha256: Vec<u8>,
    pub public_key: Vec<u8>,
    pub subject: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

pub fn parse(der: &[u8]) -> Result<Parsed, IdpError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|err| IdpError::Invalid(format!("certificate: not an X.509 certificate ({err})")))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm.to_id_string() != RSA_ENCRYPTION {
        return Err(IdpError::Invalid(format!(
            "certificate: the key is {} and not RSA; Entra's certificate credentials sign RS256 or PS256 with an RSA \
             key (e.g. `openssl req -x509 -newkey rsa:2048 ...`)",
            spki.algorithm.algorithm.to_id_string()
        )));
    }
    let public_key = spki.subject_public_key.data.to_vec();
    let bits = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size(),
        _ => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(IdpError::Invalid(format!(
            "certificate: the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    let validity = cert.validity();
    let time = |t: &x509_parser::time::ASN1Time| {
        OffsetDateTime::from_unix_timestamp(t.timestamp())
            .map_err(|_| IdpError::Invalid("certificate: validity dates out of range".into()))
    };
    Ok(Parsed {
        sha1: digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref().to_vec(),
        sha256: digest::digest(&digest::SHA256, der).as_ref().to_vec(),
        public_key,
        subject: cert.subject().to_string(),
        not_before: time(&validity.not_before)?,
        not_after: time(&validity.not_after)?,
    })
}

impl ClientCertificate {
    pub fn from_row(row: &fngate_store::idp::ClientCertificateRow) -> anyhow::Result<ClientCertificate> {
        let parsed = parse(&row.certificate)
            .map_err(|err| anyhow::anyhow!("stored certificate {} of client {}: {err}", row.id, row.client_id))?;
        Ok(ClientCertificate {
            id: row.id.clone(),
            description: row.description.clone(),
            sha1: parsed.sha1,
            sha256: parsed.sha256,
            public_key: parsed.public_key,
            subject: parsed.subject,
            not_before: parsed.not_before,
            not_after: parsed.not_after,
            created_at: row.created_at.clone(),
        })
    }
}
