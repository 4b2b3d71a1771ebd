//! `STOCK_RESPONSE_BACKEND`: a fixed status, body and headers.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};

pub(crate) struct StockBackend {
    pub status: StatusCode,
    pub body: Bytes,
    pub headers: HeaderMap,
}

impl StockBackend {
    pub fn respond(&self) -> Response<Body> {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}
