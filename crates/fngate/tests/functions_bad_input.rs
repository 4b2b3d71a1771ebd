//! Bad input is a clear error naming what and where, exits non-zero, and stores nothing.

mod support;

use std::path::Path;

use support::*;

fn stderr_of(server: &Server, dir: &Path, args: &[&str]) -> String {
    let out = server.cli(dir, args, None);
    assert!(!out.status.success(), "fngate {args:?} should have failed");
    String::from_utf8(out.stderr).unwrap()
}

async fn assert_nothing_stored(server: &Server) {
    let apps: serde_json::Value = server
        .http()
        .get(server.functions("/v2/apps"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(apps["items"], serde_json::json!([]), "nothing may be stored half-way");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_functions_fail_clearly_and_store_nothing() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "broken", false);
    let good_yaml = std::fs::read_to_string(dir.join("func.yaml")).unwrap();
    let deploy = ["deploy", "--app", "bad", "--create-app"];

    // Malformed func.yaml: file, line and field.
    std::fs::write(dir.join("func.yaml"), good_yaml.replace("memory: 256", "memory: lots")).unwrap();
    let err = stderr_of(&server, &dir, &deploy);
    assert!(err.contains("func.yaml:8: memory: invalid type"), "{err}");
    std::fs::write(dir.join("func.yaml"), good_yaml.replace("memory: 256", "memory: 9000")).unwrap();
    let err = stderr_of(&server, &dir, &deploy);
    assert!(
        err.contains("func.yaml:8: memory: must be between 1 and 8192 (MB), got 9000"),
        "{err}"
    );
    std::fs::write(
        dir.join("func.yaml"),
        good_yaml.replace("runtime: python", "runtime: docker"),
    )
    .unwrap();
    let err = stderr_of(&server, &dir, &deploy);
    assert!(
        err.contains("func.yaml:4: runtime:") && err.contains("without Docker"),
        "{err}"
    );
    std::fs::write(
        dir.join("func.yaml"),
        good_yaml.replace("runtime: python", "runtime: cobol"),
    )
    .unwrap();
    let err = stderr_of(&server, &dir, &deploy);
    assert!(err.contains("runtime \"cobol\" is not supported"), "{err}");
    std::fs::write(dir.join("func.yaml"), &good_yaml).unwrap();

    // Missing func.py.
    std::fs::rename(dir.join("func.py"), dir.join("moved.py")).unwrap();
    let err = stderr_of(&server, &dir, &deploy);
    assert!(err.contains("func.py not found in"), "{err}");
    std::fs::rename(dir.join("moved.py"), dir.join("func.py")).unwrap();

    // Unknown app without --create-app.
    let err = stderr_of(&server, &dir, &["deploy", "--app", "nope"]);
    assert!(
        err.contains("app \"nope\" not found") && err.contains("--create-app"),
        "{err}"
    );

    // A requirement that does not exist: pip's own error, no app, no fn, version not bumped.
    std::fs::write(dir.join("requirements.txt"), "fdk\nfngate-no-such-package-xyz==1.0\n").unwrap();
    let err = stderr_of(&server, &dir, &deploy);
    assert!(err.contains("pip install -r requirements.txt failed"), "{err}");
    assert!(err.contains("fngate-no-such-package-xyz"), "{err}");
    assert!(
        std::fs::read_to_string(dir.join("func.yaml"))
            .unwrap()
            .contains("version: 0.0.1")
    );
    assert_nothing_stored(&server).await;

    // Client errors: unknown app or function on invoke.
    let err = stderr_of(&server, &dir, &["invoke", "nope", "broken"]);
    assert!(err.contains("app \"nope\" not found"), "{err}");
}
