// Package uuid makes random (version 4) UUIDs for idempotency keys.
package uuid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a random RFC 9562 version 4 UUID in its canonical 36-character
// form. It reads crypto/rand, which never fails on supported platforms.
func New() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // variant 10
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}
