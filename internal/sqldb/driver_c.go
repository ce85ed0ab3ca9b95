//go:build cgo && !sqlite_modernc

package sqldb

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// SQLiteLibrary names the SQLite implementation this binary was built
// with: under cgo the C library through github.com/mattn/go-sqlite3, which
// costs about half the CPU per commit of the pure Go translation
// (docs/BENCHMARKS.md, "The SQLite driver").
const SQLiteLibrary = "mattn/go-sqlite3 (C)"

func init() {
	sql.Register(SQLiteDriverName, cDriver{})
}

// cDriver is mattn's driver reading the DSNs keygate writes for both
// drivers: mattn's own shorthand keys (_busy_timeout, _journal_mode,
// _synchronous, _foreign_keys, _txlock, mode) and modernc's
// _pragma=name(value), which mattn does not know and which is run here on
// every new connection, busy_timeout first and then in name order, as
// modernc runs it.
type cDriver struct{}

func (cDriver) Open(dsn string) (driver.Conn, error) {
	dsn, pragmas, err := splitPragmas(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := (&sqlite3.SQLiteDriver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	c := conn.(*sqlite3.SQLiteConn)
	for _, p := range pragmas {
		if _, err := c.Exec("PRAGMA "+p, nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("sqlite: PRAGMA %s: %w", p, err)
		}
	}
	return c, nil
}

// splitPragmas takes the _pragma values out of dsn's query.
func splitPragmas(dsn string) (rest string, pragmas []string, err error) {
	name, query, ok := strings.Cut(dsn, "?")
	if !ok {
		return dsn, nil, nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: DSN parameters: %w", err)
	}
	pragmas = q["_pragma"]
	q.Del("_pragma")
	sort.SliceStable(pragmas, func(i, j int) bool {
		bi, bj := strings.HasPrefix(pragmas[i], "busy_timeout"), strings.HasPrefix(pragmas[j], "busy_timeout")
		if bi != bj {
			return bi
		}
		return pragmas[i] < pragmas[j]
	})
	if len(q) == 0 {
		return name, pragmas, nil
	}
	return name + "?" + q.Encode(), pragmas, nil
}
