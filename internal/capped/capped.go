// Package capped reads HTTP bodies without ever holding more than
// a fixed number of bytes, so a hostile or broken server cannot make the SDK
// allocate without bound.
package capped

import (
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned when a body holds more bytes than the cap allows.
var ErrTooLarge = errors.New("body exceeds the size limit")

// Reader returns at most N bytes of R; reading past N fails with an error
// that wraps ErrTooLarge instead of silently truncating.
type Reader struct {
	R io.Reader
	N int64 // bytes still allowed
	// Limit is the original cap, kept for the error message.
	Limit int64
	// ReadErr is the first error other than io.EOF a Read of R returned:
	// nil after a body read to its end (or not to its end yet), set when
	// it was cut short.
	ReadErr error
}

// Read implements io.Reader.
func (c *Reader) Read(p []byte) (int, error) {
	if c.N <= 0 {
		// Probe one byte: a body of exactly Limit bytes is fine.
		var one [1]byte
		n, err := c.R.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, c.Limit)
		}
		return 0, c.note(err)
	}
	if int64(len(p)) > c.N {
		p = p[:c.N]
	}
	n, err := c.R.Read(p)
	c.N -= int64(n)
	return n, c.note(err)
}

// note records err in ReadErr, if it is the first error other than io.EOF.
func (c *Reader) note(err error) error {
	if err != nil && err != io.EOF && c.ReadErr == nil {
		c.ReadErr = err
	}
	return err
}

// ReadAll reads r up to limit bytes and reports whether more followed. It
// never returns an error for an over-long body: the caller gets the first
// limit bytes and truncated=true.
//
// The buffer doubles from 512 bytes up to limit, so reading a body at the
// cap allocates about twice limit in all; io.ReadAll's gentler growth
// allocated over four times limit.
func ReadAll(r io.Reader, limit int64) (b []byte, truncated bool, err error) {
	b = make([]byte, 0, min(max(limit, 0), 512))
	for int64(len(b)) < limit {
		if len(b) == cap(b) {
			b = append(make([]byte, 0, min(2*int64(cap(b)), limit)), b...)
		}
		n, rerr := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if rerr == io.EOF {
			return b, false, nil
		}
		if rerr != nil {
			return b, false, rerr
		}
	}
	if int64(len(b)) == limit {
		var one [1]byte
		n, _ := r.Read(one[:])
		truncated = n > 0
	}
	return b, truncated, nil
}
