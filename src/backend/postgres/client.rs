//! The session's client: `tokio-postgres` driven on a current-thread runtime, the way the
//! `postgres` crate drives it, plus what that crate cannot do: [`Client::pipeline`], several
//! statements sent before the first answer comes back (each still its own Parse, Bind, Execute
//! and Sync: one statement per call). A step's plain statements then cost one round trip, not
//! one each.

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
    /// (25P02) and a COMMIT there rolls back. `Err`: the connection failed.
    pub fn pipeline(&mut self, statements: &[&str]) -> Result<Vec<Result<u64, Error>>, Error> {
        let (c, mut d) = self.parts();
        let all = futures_util::future::join_all(statements.iter().map(|sql| async move {
            let rows = c
                .query_typed_raw(sql, std::iter::empty::<(&(dyn ToSql + Sync), Type)>())
                .await?;
            let mut rows = pin!(rows);
            while rows.next().await.transpose()?.is_some() {}
            Ok(rows.rows_affected().unwrap_or(0))
        }));
        d.block_on(async { Ok(all.await) })
    }
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
