package sqlstore

// MigrateTo lets tests make a store as an older release left it.
var MigrateTo = migrateTo
