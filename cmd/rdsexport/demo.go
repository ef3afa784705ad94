package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// demoBucket is created in the embedded S3 by `rdsexport demo`.
const demoBucket = "rdsexport-demo"

// demoSQL fills the demo database: two schemas, a few types, a partitioned
// table and an empty one.
const demoSQL = `
CREATE SCHEMA shop;
CREATE TYPE shop.order_state AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE shop.customers (
	id bigint PRIMARY KEY, name text NOT NULL, email varchar(200), signed_up timestamptz, vip boolean);
INSERT INTO shop.customers
	SELECT i, 'customer ' || i, 'c' || i || '@example.com', timestamptz '2024-01-01' + i * interval '1 hour', i % 10 = 0
	FROM generate_series(1, 1000) i;
CREATE TABLE shop.orders (
	id bigint, customer_id bigint, state shop.order_state, total numeric(12,2), items jsonb, placed date,
	PRIMARY KEY (id, placed))
	PARTITION BY RANGE (placed);
CREATE TABLE shop.orders_2024 PARTITION OF shop.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.orders_2025 PARTITION OF shop.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO shop.orders
	SELECT i, 1 + i % 1000, (ARRAY['new','paid','shipped'])[1 + i % 3]::shop.order_state, (i % 5000) / 7.0,
		jsonb_build_object('sku', 'SKU-' || i % 97, 'qty', 1 + i % 4), date '2024-01-01' + (i % 700)
	FROM generate_series(1, 20000) i;
CREATE TABLE public.events (id serial PRIMARY KEY, kind smallint, payload bytea, at timestamp);
INSERT INTO public.events (kind, payload, at)
	SELECT i % 7, decode(md5(i::text), 'hex'), timestamp '2025-06-01' + i * interval '1 minute' FROM generate_series(1, 5000) i;
CREATE TABLE public.audit_log (id bigint, note text);
`

// demoDatabase is the database `rdsexport demo` creates and serves.
const demoDatabase = "rdsexport_demo"

// createDemoDatabase creates database "rdsexport_demo" on the server at
// serverURL if it does not exist and returns the URL of that database.
func createDemoDatabase(ctx context.Context, serverURL string) (string, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("demo: connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	const name = demoDatabase
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("demo: parse PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	if exists {
		return u.String(), nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("demo: create database: %w", err)
	}
	if err := fillDemo(ctx, u.String()); err != nil {
		// Leave no half-filled database behind for the next run to trust.
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return "", err
	}
	return u.String(), nil
}

func fillDemo(ctx context.Context, url string) error {
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("demo: connect: %w", err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, demoSQL); err != nil {
		return fmt.Errorf("demo: fill database: %w", err)
	}
	return nil
}

// bigTable is the demo table `rdsexport demo --rows N` fills: rows wide
// enough that an export of a few million takes long enough to cancel.
const bigTable = "public.big"

// fillBigTable makes public.big in the demo database hold rows rows,
// recreating it when it holds another number; rows 0 leaves the database
// as it is.
func fillBigTable(ctx context.Context, url string, rows int64) error {
	if rows == 0 {
		return nil
	}
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("demo: connect: %w", err)
	}
	defer db.Close(ctx)
	var have int64 = -1
	var exists bool
	if err := db.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", bigTable).Scan(&exists); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if exists {
		if err := db.QueryRow(ctx, "SELECT count(*) FROM "+bigTable).Scan(&have); err != nil {
			return fmt.Errorf("demo: count %s: %w", bigTable, err)
		}
	}
	if have == rows {
		return nil
	}
	// One transaction: an interrupted fill leaves the old table, never a
	// short one that the next run would take for complete.
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + bigTable,
		"CREATE TABLE " + bigTable + ` (id bigint PRIMARY KEY, account int NOT NULL, amount numeric(14,2),
			note text, created timestamptz NOT NULL, flags boolean[])`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("demo: create %s: %w", bigTable, err)
		}
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+bigTable+` SELECT i, i % 10007, (i % 1000000) / 100.0,
			'note ' || md5(i::text), timestamptz '2025-01-01' + i * interval '1 second', ARRAY[i % 2 = 0, i % 3 = 0]
		FROM generate_series(1, $1::bigint) i`, rows); err != nil {
		return fmt.Errorf("demo: fill %s: %w", bigTable, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("demo: fill %s: %w", bigTable, err)
	}
	return nil
}
