//! A body run through the transforms plugins added ([`Transformed`]): the body in, each
//! [`Stage`] fed what the one before let through, the last one's output out. Nothing is read
//! ahead: a stage asks for input only when its output was taken, so the reader's pace is the
//! back-pressure all the way to the origin (or the client, for a request body).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hookyard_host::{Output, Stage};
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use tracing::warn;

/// What a body's frame fails with once transforms run over it.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A transform failed: the body ends there. (A failure of the body's input is passed on as it
/// is, so the caller can tell the two apart.)
#[derive(Debug, thiserror::Error)]
#[error("body transform of plugin `{plugin}` failed: {why}")]
pub(crate) struct TransformFailed {
    plugin: String,
    why: String,
}

/// `input` through `stages`, in order.
pub(crate) struct Transformed<B> {
    input: B,
    stages: Vec<Stage>,
    /// Whether the body keeps its length through every stage.
    keeps_length: bool,
    /// Frames taken before the head went (see `prime`), given out first.
    primed: VecDeque<Frame<Bytes>>,
    /// The input's trailers, passed on after the last stage's end.
    trailers: Option<HeaderMap>,
    /// The output ended (or failed): nothing more is polled.
    done: bool,
    /// How long a transform may hold a chunk (`timeouts.hook_pending`).
    pending_limit: Duration,
    /// Runs while a transform holds a chunk; past it the body fails.
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The last poll was left waiting on a transform (not on the input).
    on_plugin: bool,
}

/// How a body came out of [`Transformed::prime`].
pub(crate) enum Primed {
    /// All of its output, within the limit: it can go with a `Content-Length` of this.
    Whole(u64),
    /// Some of it: the rest streams.
    Streaming,
    /// A transform (or the input) failed before any output.
    Failed(BoxError),
}

impl<B> Transformed<B> {
    /// The body it transforms.
    pub(crate) fn input(&self) -> &B {
        &self.input
    }
}

impl<B> Transformed<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    /// `input` through `stages` (not empty); a transform holding a chunk longer than
    /// `pending_limit` fails the body.
    pub(crate) fn new(input: B, stages: Vec<Stage>, pending_limit: Duration) -> Transformed<B> {
        let keeps_length = stages.iter().all(Stage::keeps_length);
        Transformed {
            input,
            stages,
            keeps_length,
            primed: VecDeque::new(),
            trailers: None,
            done: false,
            pending_limit,
            stall: None,
            on_plugin: false,
        }
    }

    /// Whether the body keeps its length (no rewrite transform).
    pub(crate) fn keeps_length(&self) -> bool {
        self.keeps_length
    }

    /// Takes output before the head goes: until the first frame (so a transform that fails at
    /// once can still be answered 502), and on while more is ready at once and it stays within
    /// `limit` bytes (so a body whose transform buffers all of it gets a `Content-Length`).
    pub(crate) async fn prime(&mut self, limit: usize) -> Primed {
        let mut total = 0_usize;
        let first = std::future::poll_fn(|cx| self.poll_fresh(cx)).await;
        match first {
            None => return Primed::Whole(0),
            Some(Err(failed)) => return Primed::Failed(failed),
            Some(Ok(frame)) => {
                total += frame.data_ref().map_or(0, Bytes::len);
                self.primed.push_back(frame);
            }
        }
        if self.keeps_length {
            // Its `Content-Length` stands: nothing to gain from waiting.
            return Primed::Streaming;
        }
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        while total <= limit {
            match self.poll_fresh(&mut cx) {
                Poll::Ready(None) => return Primed::Whole(total as u64),
                Poll::Ready(Some(Ok(frame))) => {
                    total += frame.data_ref().map_or(0, Bytes::len);
                    self.primed.push_back(frame);
                }
                // The failure stays for the reader; the head goes (the body then breaks off).
                Poll::Ready(Some(Err(failed))) => {
                    self.primed.clear();
                    return Primed::Failed(failed);
                }
                // Polled with a waker that wakes nothing: the reader's poll registers its own.
                Poll::Pending => break,
            }
        }
        Primed::Streaming
    }

    /// Gives the body's remaining input to no one: every stage gets its CLOSE (after a pending
    /// chunk's resume).
    fn stop(&mut self) {
        self.done = true;
        for stage in &mut self.stages {
            stage.abort();
        }
    }

    /// The next frame for the reader: those taken before the head first.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(frame) = self.primed.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        self.poll_fresh(cx)
    }

    /// The next frame out of the last stage.
    fn poll_fresh(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))));
        }
        let last = self.stages.len() - 1;
        self.on_plugin = false;
        let mut polled = self.poll_stage(last, cx);
        if polled.is_pending() && self.on_plugin {
            let limit = self.pending_limit;
            let stall = self.stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
            if stall.as_mut().poll(cx).is_ready() {
                let plugin = self.stages.iter().find(|s| s.is_holding()).or(self.stages.last());
                let plugin = plugin.map_or_else(String::new, |s| s.plugin_name().to_owned());
                let why = format!("a chunk stayed pending past timeouts.hook_pending ({limit:?})");
                polled = Poll::Ready(Some(Err(Box::new(TransformFailed { plugin, why }))));
            }
        } else {
            self.stall = None;
        }
        match polled {
            Poll::Ready(Some(Ok(data))) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Poll::Ready(Some(Err(failed))) => {
                if let Some(failed) = failed.downcast_ref::<TransformFailed>() {
                    warn!(plugin = %failed.plugin, reason = %failed.why,
                        "a body transform failed; the transaction ends");
                }
                self.stop();
                self.trailers = None;
                Poll::Ready(Some(Err(failed)))
            }
            Poll::Ready(None) => {
                self.stop();
                Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The next output of stage `at`: data, its end (`None`), or a failure.
    fn poll_stage(
        &mut self,
        at: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, BoxError>>> {
        loop {
            match self.stages[at].poll_output(cx) {
                Poll::Pending => {
                    self.on_plugin = true;
                    return Poll::Pending;
                }
                Poll::Ready(Output::Data(data)) => return Poll::Ready(Some(Ok(data))),
                Poll::Ready(Output::End) => {
                    // The stages before it need not go on (a rewrite ended its output early).
                    for stage in &mut self.stages[..at] {
                        stage.abort();
                    }
                    return Poll::Ready(None);
                }
                Poll::Ready(Output::Failed(why)) => {
                    let plugin = self.stages[at].plugin_name().to_owned();
                    return Poll::Ready(Some(Err(Box::new(TransformFailed { plugin, why }))));
                }
                Poll::Ready(Output::NeedInput) => {}
            }
            let (chunk, end) = if at == 0 {
                match self.poll_input(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(failed)) => {
                        self.stages[0].abort();
                        return Poll::Ready(Some(Err(failed)));
                    }
                    Poll::Ready(Ok(next)) => next,
                }
            } else {
                match self.poll_stage(at - 1, cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Err(failed))) => return Poll::Ready(Some(Err(failed))),
                    Poll::Ready(Some(Ok(data))) => (data, false),
                    Poll::Ready(None) => (Bytes::new(), true),
                }
            };
            self.stages[at].feed(chunk, end);
        }
    }

    /// The input's next chunk, and whether it is the last.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<Result<(Bytes, bool), BoxError>> {
        loop {
            if self.input.is_end_stream() {
                return Poll::Ready(Ok((Bytes::new(), true)));
            }
            match Pin::new(&mut self.input).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok((Bytes::new(), true))),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e.into())),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let end = self.input.is_end_stream();
                        return Poll::Ready(Ok((data, end)));
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.trailers = Some(trailers);
                        }
                    }
                },
            }
        }
    }
}

impl<B> Body for Transformed<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.get_mut().poll_next(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.primed.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.keeps_length && self.primed.is_empty() && !self.done {
            self.input.size_hint()
        } else {
            SizeHint::default()
        }
    }
}
