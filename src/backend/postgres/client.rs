//! The session's client: `tokio-postgres` driven on a current-thread runtime, the way the
//! `postgres` crate drives it, plus what that crate cannot do: [`Client::pipeline_marked`],
//! several statements sent before the first answer comes back (each still its own Parse, Bind,
//! Execute and Sync: one statement per call). A step's plain statements then cost one round
//! trip, not one each, and the steps of several tables go together.

use futures_util::{Stream, StreamExt};
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{BorrowToSql, ToSql, Type};
use tokio_postgres::{AsyncMessage, Error, Row, RowStream, Socket};

type Messages = Pin<Box<dyn Stream<Item = Result<AsyncMessage, Error>> + Send>>;

/// What a notice looks like to the session (see `Backend::take_notices`).
pub type NoticeSink = Arc<dyn Fn(tokio_postgres::error::DbError) + Send + Sync>;

/// Parameters with their types: [`Client::query_typed`] sends them in the same round trip.
pub type Params<'a> = &'a [(&'a (dyn ToSql + Sync), Type)];

pub struct Client {
    runtime: tokio::runtime::Runtime,
    /// `None` once closing.
    client: Option<tokio_postgres::Client>,
    connection: Messages,
    notices: NoticeSink,
}

impl Client {
    /// Connect with `config` over `tls`; `notices` receives every NOTICE and WARNING. `Err`:
    /// the error's text.
    pub fn connect<T>(
        config: &tokio_postgres::Config,
        tls: T,
        notices: NoticeSink,
    ) -> Result<Client, String>
    where
        T: MakeTlsConnect<Socket> + 'static + Send,
        T::TlsConnect: Send,
        T::Stream: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (client, mut connection) = runtime
            .block_on(config.connect(tls))
            .map_err(|e| super::error_text(&e))?;
        let connection: Messages = Box::pin(futures_util::stream::poll_fn(move |cx| {
            connection.poll_message(cx)
        }));
        Ok(Client {
            runtime,
            client: Some(client),
            connection,
            notices,
        })
    }

    /// The handle to send with, and the driver to wait with (disjoint borrows).
    fn parts(&mut self) -> (&tokio_postgres::Client, Driver<'_>) {
        (
            self.client
                .as_ref()
                .expect("the client is open until dropped"),
            Driver {
                runtime: &self.runtime,
                connection: &mut self.connection,
                notices: &self.notices,
            },
        )
    }

    /// One statement with typed parameters, in one round trip (no prepare).
    pub fn query_typed(&mut self, sql: &str, params: Params) -> Result<Vec<Row>, Error> {
        let (c, mut d) = self.parts();
        d.block_on(c.query_typed(sql, params))
    }

    /// As [`Client::query_typed`], the rows read as they arrive.
    pub fn query_typed_raw<P, I>(&mut self, sql: &str, params: I) -> Result<RowIter<'_>, Error>
    where
        P: BorrowToSql,
        I: IntoIterator<Item = (P, Type)>,
    {
        let (c, mut d) = self.parts();
        let stream = d.block_on(c.query_typed_raw(sql, params))?;
        Ok(RowIter {
            driver: d,
            stream: Box::pin(stream),
        })
    }

    /// One statement, prepared first (two round trips): for parameters whose types the
    /// server infers.
    pub fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let (c, mut d) = self.parts();
        d.block_on(c.query(sql, params))
    }

    /// At most one row, as [`Client::query`].
    pub fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let (c, mut d) = self.parts();
        d.block_on(c.query_opt(sql, params))
    }

    /// The rows a statement changed, as [`Client::query`].
    pub fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let (c, mut d) = self.parts();
        d.block_on(c.execute(sql, params))
    }

    /// Exactly one row, as [`Client::query`].
    pub fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let (c, mut d) = self.parts();
        d.block_on(c.query_one(sql, params))
    }

    /// Send every statement (no parameters) before reading any answer; each one's rows
    /// changed, or its error, in order. The server runs them one after another as ever, and
    /// a failed one does not stop the next: inside a transaction block the next ones fail
    /// (25P02) and a COMMIT there rolls back. For each notice the server sent meanwhile (in
    /// the order the sink heard them), the index of the statement it came from. Answers come back in
    /// order, so a notice belongs to the first statement whose answer is not complete when the
    /// notice arrives: the statements are polled in order before each notice is passed on.
    /// When the connection fails, the results stop at the last complete answer and the error
    /// is the connection's.
    ///
    /// While more than a step's worth of answers is still to come, the connection is read
    /// after short naps (see [`Nap`]) rather than waited on: each answer ends with a flush of
    /// the server's output, and a client asleep on the socket is woken by every one of them, a
    /// wakeup the server pays for on a local connection.
    pub fn pipeline_marked(&mut self, statements: &[&str]) -> Marked {
        let (c, d) = self.parts();
        let mut pending: Vec<Answer<'_, Result<u64, Error>>> = statements
            .iter()
            .map(|sql| {
                Box::pin(async move {
                    let rows = c
                        .query_typed_raw(sql, std::iter::empty::<(&(dyn ToSql + Sync), Type)>())
                        .await?;
                    let mut rows = pin!(rows);
                    while rows.next().await.transpose()?.is_some() {}
                    Ok(rows.rows_affected().unwrap_or(0))
                }) as Pin<Box<dyn Future<Output = _>>>
            })
            .collect();
        let mut marked = Marked {
            results: Vec::with_capacity(statements.len()),
            notice_of: Vec::new(),
            failed: None,
        };
        let (connection, notices) = (d.connection, d.notices);
        // How many statements have been sent (polled once).
        let mut sent = 0;
        let mut nap = Nap::new();
        d.runtime.block_on(std::future::poll_fn(|cx| {
            loop {
                // Polling a statement sends it, in order. A few at a time, the connection
                // writes them out (and reads what came back), so that the server starts on the
                // first while the rest are still being encoded.
                let upto = (sent + SEND_AHEAD).min(pending.len());
                for f in &mut pending[sent..upto] {
                    if let Poll::Ready(r) = f.as_mut().poll(cx) {
                        // Only a failed send ends this early. Kept for its turn (a finished
                        // async block must not be polled again).
                        *f = Box::pin(std::future::ready(r));
                    }
                }
                sent = upto;
                loop {
                    match connection.as_mut().poll_next(cx) {
                        Poll::Ready(Some(Ok(AsyncMessage::Notice(n)))) => {
                            advance(&mut pending[..sent], &mut marked.results, cx);
                            marked.notice_of.push(marked.results.len());
                            notices(n);
                        }
                        Poll::Ready(Some(Ok(_))) => {}
                        Poll::Ready(Some(Err(e))) => {
                            advance(&mut pending[..sent], &mut marked.results, cx);
                            marked.failed = Some(e);
                            return Poll::Ready(());
                        }
                        Poll::Ready(None) | Poll::Pending => break,
                    }
                }
                advance(&mut pending[..sent], &mut marked.results, cx);
                if sent == pending.len() {
                    break;
                }
            }
            let left = pending.len() - marked.results.len();
            if left == 0 {
                return Poll::Ready(());
            }
            if left > NAP_WHILE_MORE_THAN {
                nap.take(marked.results.len());
                // Polled again at once, after the runtime reads what arrived meanwhile.
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        }));
        marked
    }
}

/// [`Client::pipeline_marked`] naps while more answers than this are still to come (about a
/// step's statements); for the last ones it waits on the socket, so that the end of a batch is
/// seen at once.
const NAP_WHILE_MORE_THAN: usize = 8;

/// The naps of [`Client::pipeline_marked`]: short while answers keep coming, longer (up to
/// `MAX`) while a long statement runs, so that it costs about 300 wakeups a second, not
/// thousands.
/// Measured on a 200-table apply (2 cores, local TCP, perf): the server spent 3.9 to 4.4 % of
/// its time sending answers, 2.0 to 2.5 % of it waking the client; with naps, 2.2 to 2.7 % and
/// 0.3 to 0.5 %.
struct Nap {
    micros: u64,
    /// Answers complete at the last nap.
    seen: Option<usize>,
}

impl Nap {
    const MIN: u64 = 200;
    const MAX: u64 = 3_200;

    fn new() -> Nap {
        Nap {
            micros: Nap::MIN,
            seen: None,
        }
    }

    /// The next nap's length, `complete` answers being in.
    fn next(&mut self, complete: usize) -> std::time::Duration {
        self.micros = match self.seen.is_some_and(|s| complete <= s) {
            true => (self.micros * 2).min(Nap::MAX),
            false => Nap::MIN,
        };
        self.seen = Some(complete);
        std::time::Duration::from_micros(self.micros)
    }

    /// Sleep (not on the socket), `complete` answers being in.
    fn take(&mut self, complete: usize) {
        std::thread::sleep(self.next(complete));
    }
}

/// Statements [`Client::pipeline_marked`] sends before it lets the connection write them out.
const SEND_AHEAD: usize = 8;

/// A statement's answer still to come.
type Answer<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Collect the answers that are complete, in order, up to the first that is not.
fn advance<T>(
    pending: &mut [Answer<'_, T>],
    results: &mut Vec<T>,
    cx: &mut std::task::Context<'_>,
) {
    while let Some(f) = pending.get_mut(results.len()) {
        match f.as_mut().poll(cx) {
            Poll::Ready(r) => results.push(r),
            Poll::Pending => break,
        }
    }
}

/// What [`Client::pipeline_marked`] learnt.
pub struct Marked {
    /// Each statement's rows changed, or its error, in order; shorter than the statements
    /// when the connection failed.
    pub results: Vec<Result<u64, Error>>,
    /// For each notice, the index of the statement that caused it.
    pub notice_of: Vec<usize>,
    /// The connection's error, when it failed before every answer came back.
    pub failed: Option<Error>,
}

/// Waits on the session's runtime, driving the connection meanwhile (notices go to the sink).
struct Driver<'a> {
    runtime: &'a tokio::runtime::Runtime,
    connection: &'a mut Messages,
    notices: &'a NoticeSink,
}

impl Driver<'_> {
    fn block_on<F, T>(&mut self, future: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let mut future = pin!(future);
        let (connection, notices) = (&mut *self.connection, self.notices);
        self.runtime.block_on(std::future::poll_fn(|cx| {
            loop {
                match connection.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(AsyncMessage::Notice(n)))) => notices(n),
                    Poll::Ready(Some(Ok(_))) => {}
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            future.as_mut().poll(cx)
        }))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Dropping the handle makes the connection say goodbye (Terminate) and end.
        drop(self.client.take());
        let connection = &mut self.connection;
        self.runtime.block_on(std::future::poll_fn(|cx| loop {
            match connection.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }));
    }
}

/// Rows of [`Client::query_typed_raw`], read one by one as the server sends them.
pub struct RowIter<'a> {
    driver: Driver<'a>,
    stream: Pin<Box<RowStream>>,
}

impl RowIter<'_> {
    /// The next row; `None` at the end.
    pub fn next(&mut self) -> Result<Option<Row>, Error> {
        let stream = &mut self.stream;
        self.driver
            .block_on(async { stream.next().await.transpose() })
    }

    /// Hand every remaining row to `f` as it arrives, all under one wait on the runtime (a
    /// wait per row, as `next` does, cost about a third of decoding 18,600 catalog rows);
    /// stops at the first row `f` refuses (`false`).
    pub fn for_each(&mut self, mut f: impl FnMut(Row) -> bool) -> Result<(), Error> {
        let stream = &mut self.stream;
        self.driver.block_on(async {
            while let Some(row) = stream.next().await.transpose()? {
                if !f(row) {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Rows the statement changed, once every row has been read.
    pub fn rows_affected(&self) -> Option<u64> {
        self.stream.rows_affected()
    }
}

#[cfg(test)]
mod tests {
    use super::Nap;
    use std::time::Duration;

    #[test]
    fn naps_stay_short_while_answers_come_and_lengthen_while_none_do() {
        let mut nap = Nap::new();
        let us = |n: &mut Nap, complete| n.next(complete).as_micros();
        assert_eq!(us(&mut nap, 0), 200, "the first nap is the shortest");
        assert_eq!(us(&mut nap, 0), 400);
        assert_eq!(us(&mut nap, 0), 800);
        assert_eq!(us(&mut nap, 3), 200, "an answer came: short again");
        for _ in 0..10 {
            nap.next(3);
        }
        assert_eq!(nap.next(3), Duration::from_micros(3_200), "at most MAX");
        assert_eq!(us(&mut nap, 4), 200);
    }
}
