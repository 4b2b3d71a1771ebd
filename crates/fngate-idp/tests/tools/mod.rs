//! The real client libraries scripts/test.sh installs (`$FNGATE_TEST_TOOLS/venv`: msal,
//! azure-identity), run as child processes against the IdP under test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// `$FNGATE_TEST_TOOLS/venv/bin/python` with `module` importable; fails loudly when missing.
pub fn python_with(module: &str) -> PathBuf {
    let tools = std::env::var_os("FNGATE_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools"));
    let python = tools.join("venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{} with the `{module}` package is missing: run scripts/test.sh once (it installs the test tools)",
        python.display()
    );
    python
}

/// Runs `script` with `args`, trusting the dev CA `ca`; its stdout must be one JSON document.
pub async fn run_json(python: &PathBuf, script: &str, args: &[&str], ca: &str) -> Value {
    // tokio's Command: the IdP under test runs on this same runtime.
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        // requests lets these override `verify=`; point them at the dev CA too.
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("SSL_CERT_FILE", ca)
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "python script failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "script printed no JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
