//! What the SQL code needs of a database, and nothing more: run a statement
//! with bound values, read rows, begin a transaction. [`sqlx_db!`] implements
//! it for a sqlx driver; everything else in `store::sql` is written once,
//! against these traits.
//!
//! Why this seam and not generic sqlx code: the SQL is the same text for both
//! backends (TEXT and BIGINT columns, `$n` placeholders), but sqlx's generic
//! executor bounds are higher-ranked where-clauses that Rust does not carry
//! through a trait, so generic code would repeat a dozen of them on every
//! block. Values here are only text and 64-bit integers, as in the schema;
//! the per-row cost of the copy is far below a database round trip.

use crate::store::{Result, StoreError};
use async_trait::async_trait;

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}

macro_rules! id_arg {
    ($($id:ty),*) => {$(
        impl<'a> From<&'a $id> for Arg<'a> {
            fn from(v: &'a $id) -> Self {
                Arg::Text(Some(v.as_str()))
            }
        }

        impl<'a> From<&'a Option<$id>> for Arg<'a> {
            fn from(v: &'a Option<$id>) -> Self {
                Arg::Text(v.as_ref().map(|id| id.as_str()))
            }
        }

        impl<'a> From<Option<&'a $id>> for Arg<'a> {
            fn from(v: Option<&'a $id>) -> Self {
                Arg::Text(v.map(|id| id.as_str()))
            }
        }
    )*};
}

id_arg!(
    crate::model::UserId,
    crate::model::OrgId,
    crate::model::TokenId
);

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

/// Bound values for a statement: `args![a, b, c]`.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::sql::db::Arg::from($value)),*]
    };
}
pub(crate) use args;

/// A value read from a column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Text(String),
}

/// A row: its columns by name, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row(pub(crate) Vec<(String, Cell)>);

impl Row {
    fn cell(&self, name: &str) -> Result<&Cell> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .ok_or_else(|| StoreError::Corrupt(format!("no column `{name}`")))
    }

    pub(crate) fn opt_text(&self, name: &str) -> Result<Option<String>> {
        match self.cell(name)? {
            Cell::Null => Ok(None),
            Cell::Text(t) => Ok(Some(t.clone())),
            Cell::Int(_) => Err(StoreError::Corrupt(format!("`{name}` is not text"))),
        }
    }

    pub(crate) fn text(&self, name: &str) -> Result<String> {
        self.opt_text(name)?
            .ok_or_else(|| StoreError::Corrupt(format!("`{name}` is empty")))
    }

    pub(crate) fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        match self.cell(name)? {
            Cell::Null => Ok(None),
            Cell::Int(n) => Ok(Some(*n)),
            Cell::Text(_) => Err(StoreError::Corrupt(format!("`{name}` is not a number"))),
        }
    }

    pub(crate) fn int(&self, name: &str) -> Result<i64> {
        self.opt_int(name)?
            .ok_or_else(|| StoreError::Corrupt(format!("`{name}` is empty")))
    }
}

/// A database: its pool of connections.
#[async_trait]
pub(crate) trait Db: Send + Sync + 'static {
    /// Runs a statement; how many rows it changed.
    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error>;
    async fn fetch_all(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, sqlx::Error>;
    async fn fetch_optional(&self, sql: &str, args: &[Arg<'_>])
    -> Result<Option<Row>, sqlx::Error>;
    async fn begin(&self) -> Result<Box<dyn DbTx>, sqlx::Error>;
    /// Closes every connection (bounded in time).
    async fn close(&self);
}

/// A transaction; dropped without `commit`, it rolls back.
#[async_trait]
pub(crate) trait DbTx: Send {
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error>;
    async fn fetch_optional(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error>;
    async fn commit(self: Box<Self>) -> Result<(), sqlx::Error>;
    async fn rollback(self: Box<Self>) -> Result<(), sqlx::Error>;
}

/// Implements [`Db`] for `sqlx::Pool<$db>` and [`DbTx`] for its transactions.
/// The only code that names a driver: binding, running, and reading columns
/// as integers or text.
macro_rules! sqlx_db {
    ($db:ty, $row:ty) => {
        fn bind<'q>(
            mut query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            args: &[$crate::store::sql::db::Arg<'q>],
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            for arg in args {
                query = match *arg {
                    $crate::store::sql::db::Arg::Text(v) => query.bind(v),
                    $crate::store::sql::db::Arg::Int(v) => query.bind(v),
                };
            }
            query
        }

        fn read(row: &$row) -> Result<$crate::store::sql::db::Row, sqlx::Error> {
            use sqlx::{Column, Row as _};
            use $crate::store::sql::db::Cell;
            let mut cells = Vec::with_capacity(row.columns().len());
            for (i, column) in row.columns().iter().enumerate() {
                let cell = match row.try_get::<Option<i64>, _>(i) {
                    Ok(Some(n)) => Cell::Int(n),
                    Ok(None) => Cell::Null,
                    Err(_) => row
                        .try_get::<Option<String>, _>(i)?
                        .map_or(Cell::Null, Cell::Text),
                };
                cells.push((column.name().to_string(), cell));
            }
            Ok($crate::store::sql::db::Row(cells))
        }

        #[async_trait::async_trait]
        impl $crate::store::sql::db::Db for sqlx::Pool<$db> {
            async fn execute(
                &self,
                sql: &str,
                args: &[$crate::store::sql::db::Arg<'_>],
            ) -> Result<u64, sqlx::Error> {
                Ok(bind(sqlx::query(sql), args)
                    .execute(self)
                    .await?
                    .rows_affected())
            }

            async fn fetch_all(
                &self,
                sql: &str,
                args: &[$crate::store::sql::db::Arg<'_>],
            ) -> Result<Vec<$crate::store::sql::db::Row>, sqlx::Error> {
                bind(sqlx::query(sql), args)
                    .fetch_all(self)
                    .await?
                    .iter()
                    .map(read)
                    .collect()
            }

            async fn fetch_optional(
                &self,
                sql: &str,
                args: &[$crate::store::sql::db::Arg<'_>],
            ) -> Result<Option<$crate::store::sql::db::Row>, sqlx::Error> {
                bind(sqlx::query(sql), args)
                    .fetch_optional(self)
                    .await?
                    .as_ref()
                    .map(read)
                    .transpose()
            }

            async fn begin(&self) -> Result<Box<dyn $crate::store::sql::db::DbTx>, sqlx::Error> {
                Ok(Box::new(sqlx::Pool::begin(self).await?))
            }

            async fn close(&self) {
                // sqlx returns a dropped connection to the pool from a task of
                // its own, and `Pool::close` can miss one still on its way
                // back (it then lands in the closed pool's idle queue and
                // keeps the database file open: sqlx issue #3217). So let
                // every connection come back first, close, and wait until
                // none is left. Bounded: a connection held elsewhere is
                // closed when it is returned.
                let settle = async |done: &(dyn Fn() -> bool + Sync)| {
                    for _ in 0..500 {
                        if done() {
                            return;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    }
                };
                settle(&|| self.num_idle() >= self.size() as usize).await;
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    sqlx::Pool::close(self),
                )
                .await;
                settle(&|| self.size() == 0).await;
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::sql::db::DbTx for sqlx::Transaction<'static, $db> {
            async fn execute(
                &mut self,
                sql: &str,
                args: &[$crate::store::sql::db::Arg<'_>],
            ) -> Result<u64, sqlx::Error> {
                Ok(bind(sqlx::query(sql), args)
                    .execute(&mut **self)
                    .await?
                    .rows_affected())
            }

            async fn fetch_optional(
                &mut self,
                sql: &str,
                args: &[$crate::store::sql::db::Arg<'_>],
            ) -> Result<Option<$crate::store::sql::db::Row>, sqlx::Error> {
                bind(sqlx::query(sql), args)
                    .fetch_optional(&mut **self)
                    .await?
                    .as_ref()
                    .map(read)
                    .transpose()
            }

            async fn commit(self: Box<Self>) -> Result<(), sqlx::Error> {
                sqlx::Transaction::commit(*self).await
            }

            async fn rollback(self: Box<Self>) -> Result<(), sqlx::Error> {
                sqlx::Transaction::rollback(*self).await
            }
        }
    };
}
pub(crate) use sqlx_db;
