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
