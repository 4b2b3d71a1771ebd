//! OCI test helpers: API key pairs made by the test (aws-lc-rs), their registration and
//! `~/.oci/config` through the real `fngate oci` commands, the real `oci` CLI (from PyPI, in the
//! test tools venv), and a request signer for raw calls that tamper with what they sign.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::support::{Server, test_tools};

/// An RSA 2048 key pair with its PEM files.
pub struct OciKey {
    pair: RsaKeyPair,
    pub private_pem: String,
    pub public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

impl OciKey {
    pub fn generate() -> OciKey {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8: Pkcs8V1Der = pair.as_der().unwrap();
        let spki = pair.public_key().as_der().unwrap();
        OciKey {
            private_pem: pem("PRIVATE KEY", pkcs8.as_ref()),
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
            pair,
        }
    }

    fn sign(&self, text: &str) -> String {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &rng, text.as_bytes(), &mut signature)
            .unwrap();
        STANDARD.encode(signature)
    }
}

/// A registered key and the files the `oci` CLI needs.
pub struct OciEnv {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub key_file: PathBuf,
    pub tenancy: String,
    pub user: String,
    pub fingerprint: String,
    pub endpoint: String,
    pub key: OciKey,
}

impl OciEnv {
    pub fn key_id(&self) -> String {
        format!("{}/{}/{}", self.tenancy, self.user, self.fingerprint)
    }
}

/// Makes a key pair, registers it with `fngate oci api-key add` and writes the profile
/// `fngate oci config` prints to `dir/config`.
pub fn register(server: &Server, dir: &Path, user: &str) -> OciEnv {
    let key = OciKey::generate();
    let key_file = dir.join(format!("{}.pem", user.replace('.', "_")));
    std::fs::write(&key_file, &key.private_pem).unwrap();
    let public = dir.join("public.pem");
    std::fs::write(&public, &key.public_pem).unwrap();
    let added: Value = serde_json::from_str(&server.cli_ok(
        dir,
        &[
            "oci",
            "api-key",
            "add",
            "--user",
            user,
            "--public-key",
            public.to_str().unwrap(),
            "--output",
            "json",
        ],
        None,
    ))
    .unwrap();
    let fingerprint = added["fingerprint"].as_str().unwrap().to_string();
    let profile = server.cli_ok(
        dir,
        &[
            "oci",
            "config",
            "--user",
            user,
            "--fingerprint",
            &fingerprint,
            "--key-file",
            key_file.to_str().unwrap(),
        ],
        None,
    );
    let config = dir.join("config");
    std::fs::write(&config, &profile).unwrap();
    let endpoint = profile
        .lines()
        .find_map(|l| l.strip_prefix("#   oci fn ... --endpoint "))
        .expect("fngate oci config prints the endpoint")
        .trim()
        .to_string();
    assert_eq!(endpoint, server.oci(""), "the printed endpoint is the oci listener");
    OciEnv {
        dir: dir.to_path_buf(),
        config,
        key_file,
        tenancy: added["tenancy"].as_str().unwrap().to_string(),
        user: user.to_string(),
        fingerprint,
        endpoint,
        key,
    }
}

/// The real `oci` CLI against fngate: `--config-file`, `--endpoint`, a private HOME (its
/// invoke-endpoint cache lives there).
pub fn oci(env: &OciEnv, args: &[&str]) -> Output {
    let bin = test_tools().join("venv/bin/oci");
    assert!(
        bin.is_file(),
        "the oci CLI is missing from the test tools — run scripts/test.sh (it installs oci-cli)"
    );
    Command::new(bin)
        .arg("--config-file")
        .arg(&env.config)
        .args(["--endpoint", &env.endpoint])
        .args(args)
        .env("HOME", &env.dir)
        .env("SUPPRESS_LABEL_WARNING", "True")
        .env("OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING", "True")
        .current_dir(&env.dir)
        .output()
        .unwrap()
}

/// `oci` that must succeed; its stdout as JSON (or `Null` when it printed nothing).
pub fn oci_json(env: &OciEnv, args: &[&str]) -> Value {
    let out = oci(env, args);
    assert!(
        out.status.success(),
        "oci {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("oci {args:?} printed no JSON ({err}): {text}"))
}

/// What to sign and send, with knobs to break it.
pub struct Signed<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub body: &'a [u8],
    pub key: &'a OciKey,
    pub key_id: &'a str,
    pub date: SystemTime,
    /// Headers to sign; `None` = what OCI requires for the method.
    pub headers: Option<Vec<&'a str>>,
    /// The body actually sent (`None` = the signed one).
    pub send_body: Option<&'a [u8]>,
    pub extra: Vec<(&'a str, String)>,
}

impl<'a> Signed<'a> {
    pub fn new(env: &'a OciEnv, key_id: &'a str, method: &'a str, url: &'a str, body: &'a [u8]) -> Self {
        Signed {
            method,
            url,
            body,
            key: &env.key,
            key_id,
            date: SystemTime::now(),
            headers: None,
            send_body: None,
            extra: Vec::new(),
        }
    }

    pub async fn send(self) -> reqwest::Response {
        let url = reqwest::Url::parse(self.url).unwrap();
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let with_body = matches!(self.method, "POST" | "PUT" | "PATCH");
        let mut values: Vec<(String, String)> = vec![
            ("date".into(), httpdate::fmt_http_date(self.date)),
            ("host".into(), host),
        ];
        if with_body {
            values.push(("content-type".into(), "application/json".into()));
            values.push(("content-length".into(), self.body.len().to_string()));
            values.push((
                "x-content-sha256".into(),
                STANDARD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.body)),
            ));
        }
        for (name, value) in &self.extra {
            values.push((name.to_string(), value.clone()));
        }
        let names: Vec<&str> = self.headers.clone().unwrap_or_else(|| {
            let mut names = vec!["date", "(request-target)", "host"];
            if with_body {
                names.extend(["content-length", "content-type", "x-content-sha256"]);
            }
            names
        });
        let lines: Vec<String> = names
            .iter()
            .map(|name| {
                if *name == "(request-target)" {
                    format!("(request-target): {} {target}", self.method.to_lowercase())
                } else {
                    let value = values
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    format!("{name}: {value}")
                }
            })
            .collect();
        let authorization = format!(
            "Signature version=\"1\",keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
            self.key_id,
            names.join(" "),
            self.key.sign(&lines.join("\n"))
        );
        let mut request = reqwest::Client::new()
            .request(self.method.parse().unwrap(), self.url)
            .header("authorization", authorization);
        for (name, value) in values {
            if name != "host" && name != "content-length" {
                request = request.header(name, value);
            }
        }
        let sent = self.send_body.unwrap_or(self.body).to_vec();
        if with_body {
            request = request.body(sent);
        }
        request.send().await.unwrap()
    }
}

/// `(status, opc-request-id, JSON body)` of an answer.
pub async fn answer(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("opc-request-id")
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    (status, request_id, serde_json::from_str(&text).unwrap_or(Value::Null))
}
