// Package tokens issues and verifies the access tokens NiFi Registry
// hands out (/access/token, /access/token/login): JWTs signed with HMAC
// keys kept in the replicated state, so any node verifies a token any
// node issued, and revoked by logout on every node at once (the
// revocation is a replicated command too). Keys rotate: a node adds a new
// one when the newest is older than the rotation period, and Apply keeps
// the newest MaxKeys, so a token outlives at most MaxKeys-1 rotations.
package tokens

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

var (
	tKeys    = []byte("k.keys")    // key id → key
	tRevoked = []byte("k.revoked") // token id → expiry (ms, decimal)

	// Tables are created by the store with its own.
	Tables = [][]byte{tKeys, tRevoked}
)

// MaxKeys is how many signing keys are kept.
const MaxKeys = 3

// Issuer is the iss claim of Weir's tokens.
const Issuer = "weir"

// Key is a signing key.
type Key struct {
	ID      string `json:"id"`
	Secret  []byte `json:"secret"`
	Created int64  `json:"created"`
}

// Handles reports whether c is a token command.
func Handles(c command.Command) bool {
	return c.Type() == command.TypeAddSigningKey || c.Type() == command.TypeRevokeToken
}

// Apply applies a token command in the store's transaction. Refusals are
// *model.Error and write nothing.
func Apply(btx *bolt.Tx, c command.Command) (any, error) {
	switch c := c.(type) {
	case *command.AddSigningKey:
		if len(c.Secret) < 32 || len(c.Secret) > 1024 {
			return nil, model.Invalid("A signing key needs 32 to 1024 bytes of secret.")
		}
		if btx.Bucket(tKeys).Get([]byte(c.ID)) != nil {
			return nil, nil // a retried proposal
		}
		keys, err := Keys(btx)
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(Key{ID: c.ID, Secret: c.Secret, Created: c.At})
		if err != nil {
			return nil, err
		}
		if err := btx.Bucket(tKeys).Put([]byte(c.ID), raw); err != nil {
			return nil, err
		}
		// Keep the newest MaxKeys (keys sorts newest first).
		for i := MaxKeys - 1; i < len(keys); i++ {
			if err := btx.Bucket(tKeys).Delete([]byte(keys[i].ID)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case *command.RevokeToken:
		b := btx.Bucket(tRevoked)
		var expired [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			var exp int64
			if _, err := fmt.Sscan(string(v), &exp); err == nil && exp <= c.At {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		}); err != nil {
			return nil, err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return nil, err
			}
		}
		if c.Expires <= c.At {
			return nil, nil // already dead
		}
		return nil, b.Put([]byte(c.TokenID), []byte(fmt.Sprint(c.Expires)))
	}
	return nil, model.Invalid(fmt.Sprintf("command %s is not a token command", c.Type()))
}

// Keys lists the signing keys, newest first.
func Keys(btx *bolt.Tx) ([]Key, error) {
	var out []Key
	err := btx.Bucket(tKeys).ForEach(func(_, v []byte) error {
		var k Key
		if err := json.Unmarshal(v, &k); err != nil {
			return fmt.Errorf("corrupt signing key record: %w", err)
		}
		out = append(out, k)
		return nil
	})
	slices.SortFunc(out, func(a, b Key) int {
		if c := cmp.Compare(b.Created, a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, err
}

// Revoked reports whether a token id was revoked.
func Revoked(btx *bolt.Tx, id string) bool { return btx.Bucket(tRevoked).Get([]byte(id)) != nil }

// Claims are a token's claims.
type Claims struct {
	jwt.RegisteredClaims
}

// Issue signs a token for identity with the newest key.
func Issue(keys []Key, identity, id string, now time.Time, ttl time.Duration) (string, error) {
	if len(keys) == 0 {
		return "", model.Unavailable("No signing key yet; retry shortly.", time.Second)
	}
	k := keys[0]
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{jwt.RegisteredClaims{
		Issuer: Issuer, Subject: identity, ID: id,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}})
	t.Header["kid"] = k.ID
	return t.SignedString(k.Secret)
}

// ErrInvalid is a token that is not valid: badly formed, signed with an
// unknown key or not by Weir, tampered with, expired or revoked.
var ErrInvalid = errors.New("invalid access token")

// Verify checks a token against the keys and returns its claims. revoked
// says whether its id was revoked.
func Verify(raw string, keys []Key, revoked func(id string) bool, now time.Time) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range keys {
			if k.ID == kid {
				return k.Secret, nil
			}
		}
		return nil, fmt.Errorf("unknown signing key %q", kid)
	}, jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Subject == "" || c.ID == "" {
		return nil, fmt.Errorf("%w: no subject or id", ErrInvalid)
	}
	if revoked(c.ID) {
		return nil, fmt.Errorf("%w: logged out", ErrInvalid)
	}
	return &c, nil
}
