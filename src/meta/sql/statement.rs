//! A statement of the one SQL text with the values of its `$N`
//! placeholders, before a dialect binds them the way its database stores
//! them.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

/// One SQL statement and the values of its placeholders, `$1` first.
#[derive(Debug)]
pub struct Statement<'a> {
    sql: &'static str,
    values: Vec<Value<'a>>,
}

/// A value for a placeholder, typed even when NULL so that PostgreSQL
/// knows the column type it stands for.
#[derive(Debug)]
pub enum Value<'a> {
    /// Text, or a NULL text.
    Text(Option<Cow<'a, str>>),
    /// An integer, or a NULL integer.
    Integer(Option<i64>),
    /// Bytes, or NULL bytes.
    Bytes(Option<Vec<u8>>),
    /// A time, which each database stores its own way.
    Time(DateTime<Utc>),
}

impl<'a> Statement<'a> {
    /// The statement `sql`, with no values yet.
    pub fn new(sql: &'static str) -> Self {
        Statement {
            sql,
            values: Vec::new(),
        }
    }

    /// The statement with `value` for its next placeholder.
    pub fn bind(mut self, value: impl Into<Value<'a>>) -> Self {
        self.values.push(value.into());
        self
    }

    /// The sqlx query of database `DB`, with every value bound and times
    /// bound as `time` turns them into what the database stores.
    pub fn query<DB, T>(self, time: fn(DateTime<Utc>) -> T) -> Query<'a, DB, DB::Arguments<'a>>
    where
        DB: Database,
        Option<Cow<'a, str>>: Encode<'a, DB> + Type<DB>,
        Option<i64>: Encode<'a, DB> + Type<DB>,
        Option<Vec<u8>>: Encode<'a, DB> + Type<DB>,
        T: Encode<'a, DB> + Type<DB> + 'a,
    {
        let unbound = sqlx::query::<DB>(self.sql);
        self.values
            .into_iter()
            .fold(unbound, |query, value| match value {
                Value::Text(text) => query.bind(text),
                Value::Integer(integer) => query.bind(integer),
                Value::Bytes(bytes) => query.bind(bytes),
                Value::Time(at) => query.bind(time(at)),
            })
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Value::Text(Some(Cow::Borrowed(text)))
    }
}

impl From<String> for Value<'_> {
    fn from(text: String) -> Self {
        Value::Text(Some(Cow::Owned(text)))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Self {
        Value::Text(text.map(Cow::Borrowed))
    }
}

impl From<i64> for Value<'_> {
    fn from(integer: i64) -> Self {
        Value::Integer(Some(integer))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(integer: Option<i64>) -> Self {
        Value::Integer(integer)
    }
}

impl From<Vec<u8>> for Value<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        Value::Bytes(Some(bytes))
    }
}

impl From<Option<Vec<u8>>> for Value<'_> {
    fn from(bytes: Option<Vec<u8>>) -> Self {
        Value::Bytes(bytes)
    }
}

impl From<DateTime<Utc>> for Value<'_> {
    fn from(time: DateTime<Utc>) -> Self {
        Value::Time(time)
    }
}
