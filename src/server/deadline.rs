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
use actix_web::rt::time::{Instant, Sleep, sleep_until};

use super::peers::Admitted;

pub struct Deadlines {
    io: TcpStream,
    limit: Duration,
    write_limit: Duration,
    /// Running from the first byte of a request until the first byte of
    /// its response.
    deadline: Timer,
    /// Running from a write the socket could not take until one it did.
    stall: Timer,
    /// The connection's place among its address's; freed with it.
    _place: Admitted,
}

/// A timer armed and disarmed many times over a connection's life: its
/// registration is made once and moved on re-arming, since most responses
/// arm and disarm both (a head read, a write that waits for the socket).
#[derive(Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl Timer {
    fn arm(&mut self, after: Duration, cx: &mut Context<'_>) {
        let at = Instant::now() + after;
        let sleep = match &mut self.sleep {
            Some(s) => {
                s.as_mut().reset(at);
                s
            }
            None => self.sleep.insert(Box::pin(sleep_until(at))),
        };
        let _ = sleep.as_mut().poll(cx);
        self.armed = true;
    }

    fn disarm(&mut self) {
        self.armed = false;
    }

    fn passed(&mut self, cx: &mut Context<'_>) -> bool {
        self.armed
            && self
                .sleep
                .as_mut()
                .is_some_and(|s| s.as_mut().poll(cx).is_ready())
    }
}

impl Deadlines {
    pub fn new(io: TcpStream, limit: Duration, write_limit: Duration, place: Admitted) -> Self {
        Deadlines {
            io,
            limit,
            write_limit,
            deadline: Timer::default(),
            stall: Timer::default(),
            _place: place,
        }
    }

    /// Either deadline passed; reads check both.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.stalled(cx).or_else(|| {
            self.deadline
                .passed(cx)
                .then(|| timed_out("request head not complete within client_request_timeout"))
        })
    }

    /// The write deadline passed; writes check only this one, since a
    /// response that starts late has still started.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.stall
            .passed(cx)
            .then(|| timed_out("response not read within write_timeout"))
    }

    fn wrote(&mut self, cx: &mut Context<'_>, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.deadline.disarm();
                self.stall.disarm();
            }
            // Arming polls the timer once, which registers the waker, as
            // for the head deadline.
            Poll::Pending if !self.stall.armed => self.stall.arm(self.write_limit, cx),
            _ => {}
        }
    }
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
            && !this.deadline.armed
        {
            // Arming registers the waker: the connection is polled again
            // when the deadline passes, even if the client sends nothing.
            this.deadline.arm(this.limit, cx);
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
