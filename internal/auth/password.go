package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// argonParams are argon2id's cost parameters.
type argonParams struct {
	time    uint32 // passes
	memory  uint32 // KiB
	threads uint8
	saltLen uint32
	keyLen  uint32
}

// defaultParams suit a small server: about 50 ms and 64 MiB per hash on
// two cores (RFC 9106's second recommended option, with fewer threads).
var defaultParams = argonParams{time: 1, memory: 64 * 1024, threads: 2, saltLen: 16, keyLen: 32}

// Bounds on the parameters accepted from a stored hash, so that a corrupt
// row cannot make a login allocate without limit.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 16
)

var errMalformedHash = errors.New("auth: malformed password hash")

// hasher hashes and checks passwords, running at most a fixed number of
// hashes at once (invariant 3 of the package doc).
type hasher struct {
	params argonParams
	sem    chan struct{}

	dummyOnce sync.Once
	dummy     string // a hash of a random password, checked for unknown emails
	dummyErr  error
}

func newHasher(p argonParams) *hasher {
	return &hasher{params: p, sem: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: wait to hash: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns the PHC string of password with a fresh salt.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	p := h.params
	salt := make([]byte, p.saltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
	h.release()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key)), nil
}

// verify reports whether password matches the PHC string encoded, hashing
// with the parameters encoded names.
func (h *hasher) verify(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	h.release()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// spend checks password against a hash of a random password, taking the
// time a real check takes; it is what a login for an unknown email costs.
func (h *hasher) spend(ctx context.Context, password string) error {
	h.dummyOnce.Do(func() {
		h.dummy, h.dummyErr = h.hash(context.Background(), rand.Text())
	})
	if h.dummyErr != nil {
		return h.dummyErr
	}
	_, err := h.verify(ctx, h.dummy, password)
	return err
}

func decodeHash(encoded string) (p argonParams, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("%w: version %q", errMalformedHash, parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return p, nil, nil, fmt.Errorf("%w: parameters %q", errMalformedHash, parts[3])
	}
	if p.memory == 0 || p.memory > maxArgonMemory || p.time == 0 || p.time > maxArgonTime || p.threads == 0 {
		return p, nil, nil, fmt.Errorf("%w: parameters %q out of range", errMalformedHash, parts[3])
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt", errMalformedHash)
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, fmt.Errorf("%w: key", errMalformedHash)
	}
	return p, salt, key, nil
}
