package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
)

// Bounds of a pool's statement cache.
//
// The texts a store runs are written in its code, so they are few (about
// two hundred today), except those built for a list of ids with
// Placeholders, of which there is one per length. A query with more than
// maxStmtArgs arguments is not cached: no fixed statement here has half as
// many (the widest has 19), and a query over that many ids does enough work
// that parsing it is a small part of it, while caching each length would
// grow the cache with every list size seen. What remains is at most
// maxStmtArgs texts per list-building query plus the fixed ones, well under
// maxStmts, which is a backstop against texts built in some other way: once
// a pool holds maxStmts statements it prepares no more (the rest run as
// text, as before), and says so once in the log. There is no eviction, so
// a statement is never closed while another goroutine is about to run it.
const (
	maxStmts    = 2000
	maxStmtArgs = 32
)

// pool is one *sql.DB and the statements prepared on it, one per SQL text,
// kept until Close. database/sql prepares a statement on each connection
// the first time it runs there and keeps it for the connection's life.
type pool struct {
	sql    *sql.DB
	logger *slog.Logger

	limit  int // statements kept at most: maxStmts
	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	full   bool // logged that the cache holds limit
	closed bool
}

func newPool(sdb *sql.DB, logger *slog.Logger) *pool {
	return &pool{sql: sdb, logger: logger, limit: maxStmts, stmts: make(map[string]*sql.Stmt)}
}

// lookup returns the statement prepared for query, or nil.
func (p *pool) lookup(query string) *sql.Stmt {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.stmts[query]
}

func (p *pool) len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.stmts)
}

// stmt returns the statement for query, a text run with nargs arguments,
// preparing it on first use. It returns nil when query is not to be cached
// (see maxStmtArgs and maxStmts) or does not prepare; the caller then runs
// query as text, which returns the error the query gives, if any.
//
// The caller must hold no connection of p: preparing takes one.
func (p *pool) stmt(ctx context.Context, query string, nargs int) *sql.Stmt {
	if nargs > maxStmtArgs {
		return nil
	}
	p.mu.RLock()
	s, full := p.stmts[query], len(p.stmts) >= p.limit
	p.mu.RUnlock()
	if s != nil || full {
		return s
	}
	// Prepared outside the lock, so that a slow prepare delays no other
	// text. Two callers that miss the same text at once both prepare it:
	//
	//	A: miss, prepare         B: miss, prepare
	//	A: store s_A
	//	                         B: sees s_A: close s_B, use s_A
	//
	// so the cache holds one statement per text.
	s, err := p.sql.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	keep, drop := p.keep(ctx, query, s)
	if drop != nil {
		// Never used, so closing it only releases it; an error here
		// would say nothing about any query.
		_ = drop.Close()
	}
	return keep
}

// keep stores s as query's statement unless the cache has one already, is
// full or closed. It returns the statement to use (nil: none) and the one to
// close.
func (p *pool) keep(ctx context.Context, query string, s *sql.Stmt) (keep, drop *sql.Stmt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch have := p.stmts[query]; {
	case have != nil:
		return have, s
	case p.closed:
		return nil, s
	case len(p.stmts) >= p.limit:
		if !p.full {
			p.full = true
			p.logger.WarnContext(ctx, "statement cache full; new SQL texts run unprepared", "statements", len(p.stmts))
		}
		return nil, s
	}
	p.stmts[query] = s
	return s, nil
}

// close closes the pool, then its statements. In that order each
// connection's statements are finalized with it (and PostgreSQL drops them
// with the session) rather than deallocated one by one, connection by
// connection; closing a Stmt afterwards only releases it.
func (p *pool) close() error {
	err := p.sql.Close()
	p.mu.Lock()
	stmts := p.stmts
	p.stmts, p.closed = map[string]*sql.Stmt{}, true
	p.mu.Unlock()
	var errs []error
	for _, s := range stmts {
		if cerr := s.Close(); cerr != nil {
			errs = append(errs, cerr)
		}
	}
	return errors.Join(append([]error{err}, errs...)...)
}
