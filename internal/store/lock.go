package store

// ForUpdate is the clause that ends a SELECT of the rows a transaction
// is about to change, so that they are held until it ends: " FOR UPDATE"
// on PostgreSQL, whose READ COMMITTED would otherwise let two
// transactions read the same old row; "" on SQLite, whose write
// transactions begin IMMEDIATE and so hold the whole database from their
// start.
//
//	row := tx.QueryRowContext(ctx, `SELECT `+cols+` FROM t WHERE id = ?`+store.ForUpdate(tx), id)
//
// q is the transaction (or the handle whose dialect it runs on).
func ForUpdate(q interface{ Dialect() Dialect }) string {
	if q.Dialect() == Postgres {
		return " FOR UPDATE"
	}
	return ""
}
