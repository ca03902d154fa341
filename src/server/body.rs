//! An answer's body carrying its [`ResponseGuard`]: the connection knows the
//! answer is pending until the body is fully handed over (and dropped).
//!
//! The data is handed over in pieces: hyper asks for the next one only once
//! the previous ones could go on (HTTP/2: within the flow-control windows,
//! HTTP/1: into its write buffer), so each ask is progress and restarts the
//! answer's `write_timeout`. The last byte is a piece of its own, so the
//! answer stays pending until all the rest has passed the windows. Handed
//! over whole, an answer would count as taken as soon as h2 buffered it,
//! however long a window kept it unsent.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use tokio::time::Instant;

use super::activity::ResponseGuard;

/// Largest piece handed over at once (HTTP/2's default frame size).
const PIECE: usize = 16 * 1024;

pub struct TrackedBody {
    inner: Full<Bytes>,
    /// Data taken from `inner`, not handed over yet.
    rest: Bytes,
    guard: ResponseGuard,
}

impl TrackedBody {
    pub fn new(inner: Full<Bytes>, guard: ResponseGuard) -> Self {
        TrackedBody { inner, rest: Bytes::new(), guard }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.rest.is_empty() {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.rest = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return other,
            }
        }
        this.guard.progress(Instant::now());
        let len = match this.rest.len() {
            n if n > PIECE => PIECE,
            n if n > 1 => n - 1,
            n => n,
        };
        let piece = this.rest.split_to(len);
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.inner.size_hint().lower() + self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;

    use super::super::activity::Activity;
    use super::*;

    #[tokio::test]
    async fn an_answer_is_handed_over_in_pieces_and_whole() {
        let data: Bytes = (0..40_000u32).map(|i| i as u8).collect::<Vec<u8>>().into();
        let activity: Arc<Activity> = Activity::new(Instant::now());
        let guard = activity.request(true).answered(Instant::now());
        let mut body = TrackedBody::new(Full::new(data.clone()), guard);
        assert_eq!(body.size_hint().exact(), Some(40_000), "HTTP/1 sets Content-Length from it");
        let mut pieces = Vec::new();
        while let Some(frame) = body.frame().await {
            pieces.push(frame.unwrap().into_data().unwrap());
        }
        assert_eq!(pieces.iter().map(Bytes::len).collect::<Vec<_>>(), [PIECE, PIECE, 40_000 - 2 * PIECE - 1, 1]);
        assert_eq!(pieces.concat(), data);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn an_empty_answer_ends_at_once() {
        let activity = Activity::new(Instant::now());
        let mut body = TrackedBody::new(Full::new(Bytes::new()), activity.request(false).answered(Instant::now()));
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
    }
}
