//! The FDK's answer to `POST /call`, read as the functions runtime reads it: over a real unix
//! socket through `FdkStream`, by hyper's HTTP/1 client (as `instance.rs` connects), then the
//! 200-only rule and hop-by-hop stripping of `Instance::call`, then the HTTP-trigger unwrapping
//! (`fngate_invoke::http_front::unwrap_response` for Fn's trigger) and the trigger's response as `/t/{app}/{path}` sends it.
//!
//! The input is the raw bytes the FDK writes once it has read the request. Invariants:
//! - the client's response never carries framing or hop-by-hop headers taken from the function
//!   (`Content-Length`, `Transfer-Encoding`, `Connection`, …): framing is the listener's job, and
//!   a function-chosen `Content-Length` desynchronises the client's connection;
//! - that response, written by hyper's server and read back by a client, arrives with the status
//!   and body the function gave;
//! - a kept connection never hands a later call bytes the FDK sent before that call was written
//!   (the "extra response" leak of issue #12, here between function callers).

use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::Context;

use bytes::Bytes;
use fngate_functions::fuzzing::FdkStream;
use fngate_http::{HopByHop, is_hop_by_hop, strip_hop_by_hop};
use fngate_invoke::http_front::{HttpFront, unwrap_response};
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// More than an FDK answer needs here, less than a socket buffer (the FDK side writes it whole).
const MAX_INPUT: usize = 64 * 1024;
const REQUEST_BODY: &[u8] = b"{}";

type Driver = Connection<TokioIo<FdkStream>, Full<Bytes>>;

struct Harness {
    runtime: tokio::runtime::Runtime,
    listener: UnixListener,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

impl Harness {
    fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let dir = tempfile::tempdir().expect("temp dir for the FDK socket");
        let path = dir.path().join("lsnr.sock");
        let listener = runtime
            .block_on(async { UnixListener::bind(&path) })
            .expect("bind the FDK socket");
        Harness {
            runtime,
            listener,
            path,
            _dir: dir,
        }
    }
}

/// How the runtime took the FDK's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not an HTTP response hyper accepts (the instance is killed, the caller gets 502).
    Unreadable,
    /// A response other than 200 (Fn's 502/504 rules apply; no function output reaches the caller).
    Failed(StatusCode),
    /// A 200: what the HTTP-trigger caller receives.
    Answered { status: StatusCode, body: Bytes },
}

/// The fuzz entry.
pub fn check(data: &[u8]) -> Outcome {
    if data.len() > MAX_INPUT {
        return Outcome::Unreadable;
    }
    HARNESS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let harness = cell.get_or_insert_with(Harness::new);
        harness.runtime.block_on(exchange(harness, data))
    })
}

/// Reads one request (head and the known body) as an FDK would, before answering.
async fn read_request(fdk: &mut UnixStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n")
            && seen.len() >= end + 4 + REQUEST_BODY.len()
        {
            return;
        }
        match fdk.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

fn call_request() -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(Bytes::from_static(REQUEST_BODY)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = http::Uri::from_static("/call");
    let headers = request.headers_mut();
    headers.insert(HOST, HeaderValue::from_static("localhost"));
    headers.insert("fn-call-id", HeaderValue::from_static("01JFUZZ0000000000000000000"));
    headers.insert("fn-intent", HeaderValue::from_static("httprequest"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    request
}

/// One call as `Instance::call` makes it: the request is queued, then the driver runs alongside.
async fn call(
    sender: &mut SendRequest<Full<Bytes>>,
    driver: &mut Driver,
) -> (Result<(http::response::Parts, Bytes), hyper::Error>, bool) {
    let mut driver_done = false;
    let work = async {
        sender.ready().await?;
        let response = sender.send_request(call_request()).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, hyper::Error>((parts, body))
    };
    tokio::pin!(work);
    let result = tokio::select! {
        biased;
        result = &mut work => result,
        _ = &mut *driver => {
            driver_done = true;
            work.await
        }
    };
    (result, driver_done)
}

/// `Instance::conn_usable`: the kept connection is reused only if its driver has not ended.
fn conn_usable(sender: &SendRequest<Full<Bytes>>, driver: &mut Driver) -> bool {
    if sender.is_closed() {
        return false;
    }
    let mut cx = Context::from_waker(std::task::Waker::noop());
    Pin::new(driver).poll(&mut cx).is_pending()
}

async fn exchange(harness: &Harness, data: &[u8]) -> Outcome {
    let (stream, accepted) = tokio::join!(FdkStream::connect(&harness.path), harness.listener.accept());
    let (Ok(stream), Ok((mut fdk, _))) = (stream, accepted) else {
        panic!("the harness could not connect its own socket");
    };
    let Ok((mut sender, mut driver)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
        return Outcome::Unreadable;
    };
    let fdk_side = async {
        read_request(&mut fdk).await;
        let _ = fdk.write_all(data).await;
        // The FDK says no more; its read side stays open, as a live FDK's does.
        let _ = fdk.shutdown().await;
    };
    let (_, (first, driver_done)) = tokio::join!(fdk_side, call(&mut sender, &mut driver));
    let outcome = match first {
        Err(_) => Outcome::Unreadable,
        Ok((parts, body)) if parts.status == StatusCode::OK => {
            // Instance::call on a 200.
            let mut headers = parts.headers;
            strip_hop_by_hop(&mut headers, HopByHop::Fixed);
            headers.remove(CONTENT_LENGTH);
            let (status, out) = unwrap_response(HttpFront::FnTrigger, StatusCode::OK, &headers);
            check_trigger_response(status, &out, &body).await;
            Outcome::Answered { status, body }
        }
        Ok((parts, _)) => Outcome::Failed(parts.status),
    };
    if !driver_done && conn_usable(&sender, &mut driver) {
        // The FDK has sent everything it will; a second call may only fail.
        let (second, _) = call(&mut sender, &mut driver).await;
        if let Ok((parts, body)) = second {
            panic!(
                "a second call on the kept connection got {} with body {body:?}, from bytes the FDK sent \
                 before that call was written; input {:?}",
                parts.status,
                String::from_utf8_lossy(data)
            );
        }
    }
    drop(fdk);
    outcome
}

/// The response `/t/{app}/{path}` builds from the unwrapped answer, checked and then sent through
/// a real HTTP/1 server and client.
async fn check_trigger_response(status: StatusCode, headers: &HeaderMap, body: &Bytes) {
    for name in headers.keys() {
        assert!(
            !is_hop_by_hop(name.as_str()) && name != CONTENT_LENGTH,
            "the function set the framing header `{name}` of the client's response: {headers:?}"
        );
    }
    let mut response = Response::new(Full::new(body.clone()));
    *response.status_mut() = status;
    *response.headers_mut() = headers.clone();
    let response = std::sync::Mutex::new(Some(response));
    let (server_io, client_io) = tokio::io::duplex(MAX_INPUT * 2);
    let service = hyper::service::service_fn(move |_request: Request<hyper::body::Incoming>| {
        let taken = response.lock().ok().and_then(|mut r| r.take());
        async move { taken.ok_or("served twice") }
    });
    let server = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server_io), service);
    let client = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
            .await
            .expect("client handshake on a duplex");
        let request = Request::get("/t/app/path")
            .header(HOST, "localhost")
            .body(Full::new(Bytes::new()))
            .expect("a static request");
        let work = async {
            let response = sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            Ok::<_, hyper::Error>((parts, body.collect().await?.to_bytes()))
        };
        tokio::pin!(work);
        tokio::select! {
            biased;
            result = &mut work => result,
            _ = conn => work.await,
        }
    };
    let (_, received) = tokio::join!(server, client);
    let (parts, received) =
        received.unwrap_or_else(|e| panic!("the trigger response ({status}, {headers:?}) is unreadable: {e}"));
    assert_eq!(parts.status, status, "status changed on the way to the client");
    // HEAD-like statuses carry no body on the wire.
    if !(status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED) {
        assert_eq!(
            &received, body,
            "the client read another body than the function sent: {headers:?}"
        );
    }
}
