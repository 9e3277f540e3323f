package params

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
)

// ErrSignature is returned by Verify for a missing or wrong signature.
var ErrSignature = errors.New("missing or invalid signature parameter s")

// Sign returns the imgix signature of a request: the hex md5 of the token,
// the path as sent (with its leading slash) and the query (with its "?",
// without s, parameters in the order sent).
func Sign(token, path, rawQuery string) string {
	q := stripSignature(rawQuery)
	msg := token + path
	if q != "" {
		msg += "?" + q
	}
	sum := md5.Sum([]byte(msg))
	return hex.EncodeToString(sum[:])
}

// Verify checks the s parameter of rawQuery against the token in constant time.
func Verify(token, path, rawQuery string) error {
	got := ""
	n := 0
	for _, part := range strings.Split(rawQuery, "&") {
		if v, ok := strings.CutPrefix(part, "s="); ok {
			got = v
			n++
		}
	}
	if n != 1 {
		return ErrSignature
	}
	want := Sign(token, path, rawQuery)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) != 1 {
		return ErrSignature
	}
	return nil
}

func stripSignature(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	parts := strings.Split(rawQuery, "&")
	kept := parts[:0]
	for _, p := range parts {
		if !strings.HasPrefix(p, "s=") {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}
