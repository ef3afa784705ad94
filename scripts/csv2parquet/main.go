// Command csv2parquet converts CSV to one Parquet file with DuckDB. It is
// the pipeline a user might script instead of an export, which
// scripts/bench.sh times next to rdsexport:
//
//	psql -c "COPY t TO STDOUT (FORMAT csv)" | csv2parquet -o t.parquet
//
// Column types are DuckDB's guesses (read_csv's sniffer, on the first
// -sample bytes when reading a pipe); the Parquet compression is DuckDB's
// default (Snappy) unless -compression names another (gzip, zstd, ...).
//
// DuckDB opens a CSV file twice when it sniffs it, which loses what the
// first open read from a pipe. So a pipe is streamed in two steps: the
// sample is sniffed from a temporary file, then the sample and the rest of
// the input are relayed through a new pipe that DuckDB reads once, with the
// sniffed columns and auto-detection off.
package main

import (
	"bytes"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	in := flag.String("in", "", "CSV file to read (default: standard input)")
	out := flag.String("o", "", "Parquet file to write (required)")
	header := flag.Bool("header", false, "the CSV's first line names the columns")
	compression := flag.String("compression", "", "Parquet compression (DuckDB's default when empty)")
	sample := flag.Int("sample", 4<<20, "bytes of a piped input that DuckDB sniffs the column types from")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, *header, *compression, *sample); err != nil {
		fmt.Fprintln(os.Stderr, "csv2parquet:", err)
		os.Exit(1)
	}
}

var codecName = regexp.MustCompile(`^[a-z0-9_]*$`)

func run(in, out string, header bool, compression string, sample int) error {
	if !codecName.MatchString(compression) {
		return fmt.Errorf("bad compression %q", compression)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	opts := "FORMAT parquet"
	if compression != "" {
		opts += ", COMPRESSION " + compression
	}
	copyTo := func(readCSV string) error {
		_, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM %s) TO %s (%s)", readCSV, literal(out), opts))
		return err
	}

	src := os.Stdin
	if in != "" {
		if src, err = os.Open(in); err != nil {
			return err
		}
		defer src.Close()
	}
	if fi, err := src.Stat(); err == nil && fi.Mode().IsRegular() {
		if err := copyTo(fmt.Sprintf("read_csv(%s, header = %t)", literal(src.Name()), header)); err != nil {
			return err
		}
		return db.Close()
	}

	// A pipe: sniff a sample, then stream sample + rest through a new pipe.
	head, err := readSample(src, sample)
	if err != nil {
		return err
	}
	columns, err := sniff(db, head, header)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	relayed := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, io.MultiReader(bytes.NewReader(head), src))
		relayed <- errors.Join(err, w.Close())
	}()
	err = copyTo(fmt.Sprintf(
		"read_csv('/dev/fd/%d', auto_detect = false, header = %t, delim = ',', quote = '\"', escape = '\"', columns = %s)",
		r.Fd(), header, columns))
	if err != nil {
		return err
	}
	if err := <-relayed; err != nil {
		return fmt.Errorf("relay input: %w", err)
	}
	return db.Close()
}

// readSample reads up to n bytes: less only when the input is shorter.
func readSample(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, n)
	k, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:k], nil
}

// sniff returns read_csv's columns parameter for the sample: a struct
// literal of names and DuckDB types.
func sniff(db *sql.DB, sample []byte, header bool) (string, error) {
	dir, err := os.MkdirTemp("", "csv2parquet")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	// Only complete lines are sniffed; a cut last line could look like
	// another type.
	if i := bytes.LastIndexByte(sample, '\n'); i >= 0 && i < len(sample)-1 {
		sample = sample[:i+1]
	}
	path := filepath.Join(dir, "sample.csv")
	if err := os.WriteFile(path, sample, 0o600); err != nil {
		return "", err
	}
	rows, err := db.Query(fmt.Sprintf("DESCRIBE SELECT * FROM read_csv(%s, header = %t)", literal(path), header))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var parts []string
	for rows.Next() {
		var name, typ string
		dest := make([]any, len(cols))
		for i := range dest {
			dest[i] = new(any)
		}
		dest[0], dest[1] = &name, &typ
		if err := rows.Scan(dest...); err != nil {
			return "", err
		}
		parts = append(parts, literal(name)+": "+literal(typ))
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(parts) == 0 {
		return "", errors.New("no columns in the input")
	}
	return "{" + strings.Join(parts, ", ") + "}", nil
}

// literal quotes s as an SQL string.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
