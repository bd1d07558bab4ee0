package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestPasswordHashing(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		params argonParams
	}{
		{"with the test parameters", testParams},
		{"with the production parameters", defaultParams},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHasher(tt.params)
			encoded, err := h.hash(ctx, "correct horse")
			if err != nil {
				t.Fatal(err)
			}
			wantPrefix := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", tt.params.memory, tt.params.time, tt.params.threads)
			if !strings.HasPrefix(encoded, wantPrefix) {
				t.Errorf("hash %q does not start with %q", encoded, wantPrefix)
			}
			if ok, err := h.verify(ctx, encoded, "correct horse"); err != nil || !ok {
				t.Errorf("verify(right password) = %v, %v; want true", ok, err)
			}
			if ok, err := h.verify(ctx, encoded, "correct horsf"); err != nil || ok {
				t.Errorf("verify(wrong password) = %v, %v; want false", ok, err)
			}
		})
	}

	t.Run("the same password hashes differently each time", func(t *testing.T) {
		h := newHasher(testParams)
		a, _ := h.hash(ctx, "correct horse")
		b, _ := h.hash(ctx, "correct horse")
		if a == b {
			t.Error("two hashes are equal: the salt is not random")
		}
	})

	t.Run("a hash made with other parameters still verifies", func(t *testing.T) {
		old := newHasher(argonParams{time: 2, memory: 128, threads: 1, saltLen: 8, keyLen: 16})
		encoded, _ := old.hash(ctx, "correct horse")
		if ok, err := newHasher(testParams).verify(ctx, encoded, "correct horse"); err != nil || !ok {
			t.Errorf("verify = %v, %v; want true", ok, err)
		}
	})

	t.Run("malformed hashes are errors", func(t *testing.T) {
		h := newHasher(testParams)
		good, _ := h.hash(ctx, "correct horse")
		parts := strings.Split(good, "$")
		for name, encoded := range map[string]string{
			"empty":              "",
			"another algorithm":  strings.Replace(good, "argon2id", "argon2i", 1),
			"another version":    strings.Replace(good, "v=19", "v=16", 1),
			"huge memory":        strings.Replace(good, "m=64,", "m=999999999,", 1),
			"zero passes":        strings.Replace(good, "t=1,", "t=0,", 1),
			"bad salt":           strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$"),
			"short key":          strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
			"missing key":        strings.Join(parts[:5], "$"),
			"bcrypt, say":        "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
			"parameters garbled": strings.Replace(good, "m=64,t=1,p=1", "m=64;t=1;p=1", 1),
		} {
			if ok, err := h.verify(ctx, encoded, "correct horse"); !errors.Is(err, errMalformedHash) || ok {
				t.Errorf("%s: verify(%q) = %v, %v; want false, errMalformedHash", name, encoded, ok, err)
			}
		}
	})

	t.Run("waiting for a hashing slot gives up with the context", func(t *testing.T) {
		h := newHasher(testParams)
		for range cap(h.sem) {
			if err := h.acquire(ctx); err != nil {
				t.Fatal(err)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := h.hash(cctx, "correct horse"); !errors.Is(err, context.Canceled) {
			t.Errorf("hash with every slot taken = %v, want context.Canceled", err)
		}
		h.release()
		if _, err := h.hash(ctx, "correct horse"); err != nil {
			t.Errorf("hash after a slot was freed: %v", err)
		}
	})
}
