//! An answer's body carrying its [`ResponseGuard`]: the connection knows the
//! answer is pending until the body is fully handed over (and dropped).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;

use super::activity::ResponseGuard;

pub struct TrackedBody {
    inner: Full<Bytes>,
    _guard: ResponseGuard,
}

impl TrackedBody {
    pub fn new(inner: Full<Bytes>, guard: ResponseGuard) -> Self {
        TrackedBody { inner, _guard: guard }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
