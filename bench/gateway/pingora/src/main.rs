//! Pingora forwarding every request to one plain-HTTP upstream with its default keep-alive pool,
//! no access log: the Pingora baseline of `bench/gateway/run.sh`.
//! Usage: `pingora-baseline -c conf.yaml` with `LISTEN=127.0.0.1:port UPSTREAM=127.0.0.1:port`.

use async_trait::async_trait;
use pingora::prelude::*;

// The same allocator as fngate, so the comparison is of the proxies.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Forward {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Forward {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream.as_str(), false, String::new())))
    }
}

fn main() {
    let listen = std::env::var("LISTEN").expect("LISTEN=host:port");
    let upstream = std::env::var("UPSTREAM").expect("UPSTREAM=host:port");
    let mut server = Server::new(Some(Opt::parse_args())).expect("pingora server");
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Forward { upstream });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
