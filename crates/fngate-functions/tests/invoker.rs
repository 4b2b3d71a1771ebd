//! The `FunctionInvoker` seam the gateway uses: resolution from memory, Fn's errors.

use fngate_functions::{Runtime, RuntimeConfig};
use fngate_invoke::{FunctionInvoker, InvokeError, InvokeRequest};
use fngate_store::functions::{AppRow, FnRow, insert_app, insert_fn};

#[tokio::test]
async fn resolves_ids_and_app_slash_fn_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let store = fngate_store::Store::open(dir.path()).await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    let t = "2026-01-01T00:00:00.000Z".to_string();
    insert_app(
        &mut tx,
        &AppRow {
            id: "APP1".into(),
            name: "shop".into(),
            config: "{}".into(),
            annotations: "{}".into(),
            syslog_url: None,
            shape: None,
            created_at: t.clone(),
            updated_at: t.clone(),
        },
    )
    .await
    .unwrap();
    insert_fn(
        &mut tx,
        &FnRow {
            id: "FN1".into(),
            app_id: "APP1".into(),
            name: "orders".into(),
            image: String::new(),
            memory: 128,
            timeout: 30,
            idle_timeout: 30,
            config: "{}".into(),
            annotations: "{}".into(),
            shape: None,
            deployment: None,
            created_at: t.clone(),
            updated_at: t,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let runtime = Runtime::start(
        store.clone(),
        RuntimeConfig {
            data_dir: dir.path().to_path_buf(),
            ..RuntimeConfig::default()
        },
    )
    .await
    .unwrap();
    // Closing the pool proves resolution does not touch the database.
    store.close().await;
    let by_id = runtime.resolve("FN1").unwrap();
    assert_eq!((by_id.app_name.as_str(), by_id.fn_name.as_str()), ("shop", "orders"));
    assert_eq!(runtime.resolve("shop/orders"), Some(by_id));
    assert_eq!(runtime.resolve("shop/nope"), None);
    assert_eq!(runtime.resolve("nope"), None);

    assert_eq!(
        runtime.invoke("missing", InvokeRequest::default()).await.unwrap_err(),
        InvokeError::NotFound
    );
    // Created through the API but never deployed: a clear error, not a hang.
    let err = runtime.invoke("FN1", InvokeRequest::default()).await.unwrap_err();
    assert!(err.to_string().contains("fngate deploy"), "{err}");
    runtime.shutdown().await;
}
