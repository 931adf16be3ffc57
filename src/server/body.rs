//! A response body that hands actix a shared document in slices.
//!
//! actix copies a body into the connection's write buffer before writing
//! it. Given a whole 300 KB feed as one chunk, every response grows that
//! buffer to the feed's size and frees it again; with hundreds of
//! connections the copies no longer fit in cache. Slices no larger than
//! the write buffer keep each connection's buffer small, warm and reused.
//! The slices share the document's allocation: nothing is copied here.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;

/// actix's default HTTP/1 write buffer size.
const SLICE: usize = 32 * 1024;

pub struct Sliced {
    rest: Bytes,
}

impl Sliced {
    pub fn new(bytes: Bytes) -> Self {
        Sliced { rest: bytes }
    }
}

impl MessageBody for Sliced {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.rest.len() as u64)
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.rest.len().min(SLICE);
        Poll::Ready(Some(Ok(self.rest.split_to(n))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn slices_add_up_to_the_document() {
        let doc: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let body = Sliced::new(Bytes::from(doc.clone()));
        assert_eq!(body.size(), BodySize::Sized(100_000));
        let bytes = actix_web::body::to_bytes(body).await.unwrap();
        assert_eq!(&bytes[..], &doc[..]);
    }
}
