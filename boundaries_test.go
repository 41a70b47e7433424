package botonom

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Edge values of the parsers and limits, one side of each boundary
// accepted and the other refused (the survivors of a mutation run).

func TestParseRate_Boundaries(t *testing.T) {
	rate := func(limit, remaining, reset string) bool {
		_, ok := parseRate(http.Header{"X-Ratelimit-Limit": {limit}, "X-Ratelimit-Remaining": {remaining}, "X-Ratelimit-Reset": {reset}})
		return ok
	}
	maxInt32, overInt32 := strconv.Itoa(math.MaxInt32), strconv.Itoa(math.MaxInt32+1)
	maxReset, overReset := strconv.Itoa(maxUnix), strconv.Itoa(maxUnix+1)
	assert.True(t, rate(maxInt32, maxInt32, maxReset))
	assert.False(t, rate(overInt32, "0", "1"), "limit over int32")
	assert.False(t, rate("1", overInt32, "1"), "remaining over int32")
	assert.False(t, rate("1", "0", overReset), "reset past maxUnix")
	for s, ok := range map[string]bool{"0": true, "9": true, " 7 ": true, "/": false, ":": false, "+1": false, "-0": false, "": false} {
		_, got := parseUnsigned(s)
		assert.Equal(t, ok, got, "%q", s)
	}
}

func TestDecide_Boundaries(t *testing.T) {
	c, err := NewClient(testToken, WithMaxRetryWait(time.Minute))
	require.NoError(t, err)
	info := func() *callInfo { return &callInfo{Context: context.Background(), cfg: c.cfg, retryable: true} }
	answer := func(status int, retryAfter string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}
		if retryAfter != "" {
			r.Header.Set("Retry-After", retryAfter)
		}
		return r
	}
	assert.True(t, c.decide(info(), answer(429, "60"), nil).retry, "a wait of exactly MaxRetryWait is slept")
	assert.False(t, c.decide(info(), answer(429, "61"), nil).retry)
	for _, status := range []int{200, 299} {
		d := c.decide(info(), answer(status, ""), nil)
		assert.NoError(t, d.err, "%d is a success", status)
	}
	for _, status := range []int{199, 300} {
		assert.Error(t, c.decide(info(), answer(status, ""), nil).err, "%d is not", status)
	}
}

func TestEventTypeShape_Boundaries(t *testing.T) {
	long := "a." + strings.Repeat("b", maxEventTypeLen-2)
	assert.True(t, EventType(long).wellFormed(), "%d bytes", len(long))
	assert.False(t, EventType(long+"b").wellFormed(), "%d bytes", len(long)+1)
	for name, ok := range map[string]bool{"a.z": true, "z.a9_": true, "`.a": false, "{.a": false, "a.`": false, "a.{": false} {
		assert.Equal(t, ok, EventType(name).wellFormed(), name)
	}
}

func TestSignatureHeader_LengthBoundary(t *testing.T) {
	payload := []byte(`{"id":"evt_1","type":"a.b"}`)
	header := SignPayload(payload, vectorSecret, vectorTime)
	padded := header + ",x=" + strings.Repeat("x", maxSignatureHeaderLen-len(header)-3)
	require.Len(t, padded, maxSignatureHeaderLen)
	err := VerifySignature(payload, padded, vectorSecret, WithClock(webhookClockAt(vectorTime)))
	assert.NoError(t, err, "a header of exactly the cap is read (unknown keys skipped)")
	err = VerifySignature(payload, padded+"x", vectorSecret, WithClock(webhookClockAt(vectorTime)))
	assert.ErrorIs(t, err, ErrInvalidSignatureHeader)
	assert.ErrorContains(t, err, fmt.Sprint(maxSignatureHeaderLen))
}
