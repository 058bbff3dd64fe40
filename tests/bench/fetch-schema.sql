-- SPDX-License-Identifier: MIT
-- The read-through benchmark's database (tests/bench/run-fetch.sh loads it
-- into a private PostgreSQL). One table of 100,000 items; the broker reads
-- it through two resources:
--
--   bench.item   one row by primary key, row_to_json     (~150 bytes)
--   bench.list   1,000 consecutive rows from {start}, json_agg (~150 KB)
--
-- Queries are counted by pg_stat_statements (shared_preload_libraries),
-- on the database side, for the broker and the naive client alike.

CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

CREATE SCHEMA bench;

CREATE TABLE bench.items (
    id          bigint PRIMARY KEY,
    sku         text NOT NULL,
    name        text NOT NULL,
    category    int NOT NULL,
    price_cents int NOT NULL,
    stock       int NOT NULL,
    updated_at  timestamptz NOT NULL
);

INSERT INTO bench.items
SELECT g,
       'SKU-' || lpad(g::text, 8, '0'),
       'Item ' || g || ' ' || md5(g::text),
       g % 100,
       100 + (g * 7919) % 99900,
       (g * 31) % 1000,
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 100000) AS g;

ANALYZE bench.items;
