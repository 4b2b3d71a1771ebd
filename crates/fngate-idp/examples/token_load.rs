//! Load generator for bench/idp/run.sh: fresh client-credentials token requests, as many as the
//! server answers, for a fixed time. Prints one JSON line with the counts.
//!
//! usage: token_load <token endpoint URL> <client id> <client secret> <scope> <concurrency> <seconds>

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, client_id, secret, scope, concurrency, seconds] = args.as_slice() else {
        anyhow::bail!("usage: token_load <token URL> <client id> <client secret> <scope> <concurrency> <seconds>");
    };
    let concurrency: usize = concurrency.parse()?;
    let duration = Duration::from_secs(seconds.parse()?);
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let form = Arc::new(vec![
        ("grant_type".to_string(), "client_credentials".to_string()),
        ("client_id".to_string(), client_id.clone()),
        ("client_secret".to_string(), secret.clone()),
        ("scope".to_string(), scope.clone()),
    ]);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, form, ok, failed) = (http.clone(), url.clone(), form.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < duration {
                let sent = http.post(&url).form(form.as_slice()).send().await;
                let good = match sent {
                    Ok(response) if response.status().is_success() => {
                        response.bytes().await.map(|b| b.len() > 100).unwrap_or(false)
                    }
                    _ => false,
                };
                if good {
                    ok.fetch_add(1, Ordering::Relaxed)
                } else {
                    failed.fetch_add(1, Ordering::Relaxed)
                };
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "{{\"ok\":{ok},\"failed\":{},\"seconds\":{elapsed:.3},\"per_second\":{:.1}}}",
        failed.load(Ordering::Relaxed),
        ok as f64 / elapsed
    );
    Ok(())
}
