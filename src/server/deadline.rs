//! Deadlines on every connection: on every request head, not just the
//! first, and on every response the client stops reading.
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
//!
//! A client that sends requests (pipelined, say) and never reads the
//! answers fills the socket's buffers; the write then waits for ever and
//! the connection is held for good. So a write that makes no progress
//! for `server.write_timeout` closes the connection too.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{AsyncRead, AsyncWrite, ReadBuf};
use actix_web::rt::net::TcpStream;
use actix_web::rt::time::{Sleep, sleep};

use super::peers::Admitted;

pub struct Deadlines {
    io: TcpStream,
    limit: Duration,
    write_limit: Duration,
    /// Running from the first byte of a request until the first byte of
    /// its response.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Running from a write the socket could not take until one it did.
    stall: Option<Pin<Box<Sleep>>>,
    /// The connection's place among its address's; freed with it.
    _place: Admitted,
}

impl Deadlines {
    pub fn new(io: TcpStream, limit: Duration, write_limit: Duration, place: Admitted) -> Self {
        Deadlines {
            io,
            limit,
            write_limit,
            deadline: None,
            stall: None,
            _place: place,
        }
    }

    /// Either deadline passed; reads check both.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.stalled(cx).or_else(|| {
            passed(&mut self.deadline, cx)
                .then(|| timed_out("request head not complete within client_request_timeout"))
        })
    }

    /// The write deadline passed; writes check only this one, since a
    /// response that starts late has still started.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        passed(&mut self.stall, cx).then(|| timed_out("response not read within write_timeout"))
    }

    fn wrote(&mut self, cx: &mut Context<'_>, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.deadline = None;
                self.stall = None;
            }
            Poll::Pending if self.stall.is_none() => {
                let mut stall = Box::pin(sleep(self.write_limit));
                // Registers the waker, as for the head deadline.
                let _ = stall.as_mut().poll(cx);
                self.stall = Some(stall);
            }
            _ => {}
        }
    }
}

fn passed(deadline: &mut Option<Pin<Box<Sleep>>>, cx: &mut Context<'_>) -> bool {
    deadline
        .as_mut()
        .is_some_and(|d| d.as_mut().poll(cx).is_ready())
}

fn timed_out(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, why)
}

impl AsyncRead for Deadlines {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.expired(cx) {
            return Poll::Ready(Err(e));
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

impl AsyncWrite for Deadlines {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.stalled(cx) {
            return Poll::Ready(Err(e));
        }
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(cx, &result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.stalled(cx) {
            return Poll::Ready(Err(e));
        }
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(cx, &result);
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
