package store

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a query without placeholders is unchanged", `SELECT 1`, `SELECT 1`},
		{"placeholders are numbered in order", `SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{"a ? in a string literal is left alone", `SELECT 'what?', ? FROM t WHERE x = '?'`, `SELECT 'what?', $1 FROM t WHERE x = '?'`},
		{"a doubled quote keeps the literal open", `SELECT 'it''s ?' WHERE a = ?`, `SELECT 'it''s ?' WHERE a = $1`},
		{"a ? in a quoted identifier is left alone", `SELECT "odd?name" FROM t WHERE a = ?`, `SELECT "odd?name" FROM t WHERE a = $1`},
		{"a ? in a line comment is left alone", "SELECT ? -- why?\nFROM t WHERE a = ?", "SELECT $1 -- why?\nFROM t WHERE a = $2"},
		{"a ? in a block comment is left alone", `SELECT /* ? */ ? FROM t`, `SELECT /* ? */ $1 FROM t`},
		{"an unterminated literal is copied as it is", `SELECT ? WHERE a = 'x?`, `SELECT $1 WHERE a = 'x?`},
		{"an unterminated comment is copied as it is", `SELECT ? /* ?`, `SELECT $1 /* ?`},
		{"a lone dash or slash is ordinary", `SELECT ? - 1, ? / 2`, `SELECT $1 - 1, $2 / 2`},
		{"more than nine placeholders", `VALUES (?,?,?,?,?,?,?,?,?,?)`, `VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rebind(tt.in); got != tt.want {
				t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func BenchmarkRebind(b *testing.B) {
	const q = `SELECT id, name, created_at FROM catalog_systems WHERE owner = ? AND name <> 'x?' ORDER BY created_at LIMIT ?`
	for b.Loop() {
		rebind(q)
	}
}
