//! A deadline on every request head, not just the first.
//!
//! actix-http applies `client_request_timeout` to the first request of a
//! connection only: once a keep-alive connection has been answered, a
//! client that starts its next request and then sends a byte a second
//! holds the connection (and one of `server.max_connections`) for as long
//! as it likes, a slowloris attack. This wrapper sits between the socket
//! and actix: when bytes arrive while nothing has been written since the
//! last ones, a request is under way, and the response must start (the
//! first byte written) within `client_request_timeout`; otherwise the
//! connection is closed. Slow readers of large responses are not
//! affected, since their connection keeps writing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{AsyncRead, AsyncWrite, ReadBuf};
use actix_web::rt::net::TcpStream;
use actix_web::rt::time::{Sleep, sleep};

pub struct HeadDeadline {
    io: TcpStream,
    limit: Duration,
    /// Running from the first byte of a request until the first byte of
    /// its response.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl HeadDeadline {
    pub fn new(io: TcpStream, limit: Duration) -> Self {
        HeadDeadline {
            io,
            limit,
            deadline: None,
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline
            .as_mut()
            .is_some_and(|d| d.as_mut().poll(cx).is_ready())
    }

    fn wrote(&mut self, result: &Poll<io::Result<usize>>) {
        if matches!(result, Poll::Ready(Ok(n)) if *n > 0) {
            self.deadline = None;
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "request head not complete within client_request_timeout",
    )
}

impl AsyncRead for HeadDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result
            && buf.filled().len() > before
            && this.deadline.is_none()
        {
            let mut deadline = Box::pin(sleep(this.limit));
            // Registers the waker: the connection is polled again when the
            // deadline passes, even if the client sends nothing more.
            let _ = deadline.as_mut().poll(cx);
            this.deadline = Some(deadline);
        }
        result
    }
}

impl AsyncWrite for HeadDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
