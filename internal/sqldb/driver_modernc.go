//go:build !cgo || sqlite_modernc

package sqldb

import _ "modernc.org/sqlite" // registers "sqlite"

// SQLiteLibrary names the SQLite implementation this binary was built
// with: without cgo (or with the sqlite_modernc tag, to compare the two),
// modernc.org/sqlite, SQLite translated to Go.
const SQLiteLibrary = "modernc.org/sqlite (pure Go)"
