package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/keygate/keygate/audit"
)

// OpenReadOnly opens an existing store without creating or changing
// anything: for offline verification and export by an auditor. A SQLite
// file must exist and is opened read-only.
func OpenReadOnly(ctx context.Context, dsn string) (*Store, error) {
	var db *sql.DB
	var d *dialect
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		// The server refuses writes for the whole session.
		u, perr := url.Parse(dsn)
		if perr != nil {
			return nil, fmt.Errorf("sqlstore: postgres DSN: %w", perr)
		}
		q := u.Query()
		q.Set("default_transaction_read_only", "on")
		u.RawQuery = q.Encode()
		db, err = sql.Open("pgx", u.String())
		d = &postgresDialect
	} else {
		path := strings.TrimPrefix(dsn, "file:")
		path, _, _ = strings.Cut(path, "?")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		abs, _ := filepath.Abs(path)
		u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_busy_timeout=10000"}
		db, err = sql.Open("sqlite", u.String())
		d = &sqliteDialect
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	s := &Store{db: db, d: d, stmts: map[int]*sql.Stmt{}, ids: map[string]uint64{}}
	if _, _, err := s.Bounds(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: %s is not a keygate audit store: %w", redact(dsn), err)
	}
	// A store not yet converted (a backup, a replica's database not yet
	// opened by this release) is read in its own layout.
	var n int
	if err := db.QueryRowContext(ctx, d.hasHashCol).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: %s: events layout: %w", redact(dsn), err)
	}
	s.oldLayout = n > 0
	return s, nil
}

// Verify verifies the store at dsn against the checkpoint public key in
// PEM, with no server: keygate audit verify --offline.
func Verify(ctx context.Context, dsn string, publicKeyPEM []byte) (*audit.Report, error) {
	return VerifyWith(ctx, dsn, publicKeyPEM, audit.VerifyOptions{})
}

// VerifyWith is Verify plus the witnesses and the newest checkpoint's age.
func VerifyWith(ctx context.Context, dsn string, publicKeyPEM []byte, o audit.VerifyOptions) (*audit.Report, error) {
	v, err := audit.ParsePublicKeyPEM(publicKeyPEM)
	if err != nil {
		return nil, err
	}
	s, err := OpenReadOnly(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return audit.VerifyWith(ctx, s, v, o)
}

// redact drops a password from a URL DSN for error messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return dsn
}
