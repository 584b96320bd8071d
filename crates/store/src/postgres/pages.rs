//! DescribeInstances' pages on PostgreSQL: the plan SQLite's pages follow (`crate::pages`),
//! its statements run on one connection in one read-only snapshot. The filter rows it reads
//! (`instance_attrs`) are kept by every instance write (`postgres::attrs`).

use sqlx::postgres::PgArguments;
use sqlx::{PgConnection, Postgres};

crate::pages::page_reads!(
    PgConnection,
    Postgres,
    PgArguments,
    crate::pages::sql::Dialect::Postgres
);
