package botonom

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the request header that carries a webhook delivery's
// signature: "t=<unix seconds>,v1=<hex HMAC-SHA256>".
const SignatureHeader = "X-Botonom-Signature"

// DefaultSignatureTolerance is how far the signature's timestamp may be from
// the local clock, in either direction, before a delivery is refused as a
// possible replay: 5 minutes (WithTolerance).
const DefaultSignatureTolerance = 5 * time.Minute

const (
	// maxSignatureHeaderLen bounds the work done on a hostile header: a real
	// one is under 100 bytes per signature.
	maxSignatureHeaderLen = 8 << 10
	// maxSignatures is the most v1 values a header may carry; secret
	// rotation needs two.
	maxSignatures = 8
)

// Errors VerifySignature, ConstructEvent and WebhookHandler's logs wrap;
// match them with errors.Is.
var (
	// ErrMissingSignature: the signature header is empty or absent.
	ErrMissingSignature = errors.New("botonom: missing webhook signature")
	// ErrInvalidSignatureHeader: the header is not "t=<unix>,v1=<hex>…"
	// (no t, a t that is not a unix time in seconds up to year 9999 — such
	// as milliseconds —, two t, no usable v1, too long, too many v1…).
	ErrInvalidSignatureHeader = errors.New("botonom: invalid webhook signature header")
	// ErrSignatureMismatch: no v1 value is the signature of the body with
	// any of the secrets.
	ErrSignatureMismatch = errors.New("botonom: webhook signature mismatch")
	// ErrSignatureExpired: the signature is authentic but its timestamp is
	// outside the tolerance (a replay, or a badly wrong clock). The
	// returned error says by how much.
	ErrSignatureExpired = errors.New("botonom: webhook signature expired")
)

// verifyConfig is what the VerifyOptions set.
type verifyConfig struct {
	secret        string   // the secret given to VerifySignature
	extraSecrets  []string // WithSecrets
	tolerance     time.Duration
	toleranceSet  bool // WithTolerance was given
	skipTimestamp bool // WithoutTimestampCheck was given
	now           func() time.Time
}

// VerifyOption configures VerifySignature and ConstructEvent. An option with
// a bad argument makes the call fail with an error that says what is wrong;
// it never turns a check off silently.
//
// The options that mean the same for a live handler (WithTolerance,
// WithClock, WithSecrets) are WebhookOptions, accepted by WebhookHandler
// too; WithoutTimestampCheck is a VerifyOption only, so a handler serving
// live traffic cannot be given it.
type VerifyOption interface {
	applyVerify(*verifyConfig) error
}

// WebhookOption is an option that VerifySignature, ConstructEvent and
// WebhookHandler all accept, with the same meaning: WithTolerance,
// WithClock and WithSecrets.
type WebhookOption interface {
	VerifyOption
	HandlerOption
}

// verifyOption is the VerifyOption that is not a HandlerOption.
type verifyOption func(*verifyConfig) error

func (f verifyOption) applyVerify(c *verifyConfig) error { return f(c) }

// webhookOption is a VerifyOption that WebhookHandler accepts too: the
// handler applies it to its own verifyConfig.
type webhookOption func(*verifyConfig) error

func (f webhookOption) applyVerify(c *verifyConfig) error { return f(c) }

func (f webhookOption) applyHandler(c *handlerConfig) error {
	c.verifyOpts = append(c.verifyOpts, f)
	return nil
}

// WithTolerance sets how far, in either direction, the signature's
// timestamp may be from the clock (default DefaultSignatureTolerance),
// counted in whole seconds. d must be positive; to skip the check, say so
// with WithoutTimestampCheck.
func WithTolerance(d time.Duration) WebhookOption {
	return webhookOption(func(c *verifyConfig) error {
		if d <= 0 {
			return fmt.Errorf("WithTolerance: %s is not positive (use WithoutTimestampCheck to skip the check)", d)
		}
		c.tolerance, c.toleranceSet = d, true
		return nil
	})
}

// WithoutTimestampCheck accepts a valid signature however old or new its
// timestamp: for replaying deliveries you stored yourself, never for live
// traffic, where the timestamp check is what stops replays. It is not a
// HandlerOption: WebhookHandler always checks the timestamp.
func WithoutTimestampCheck() VerifyOption {
	return verifyOption(func(c *verifyConfig) error {
		c.skipTimestamp = true
		return nil
	})
}

// WithClock sets the clock the timestamp is checked against (default
// time.Now), for tests.
func WithClock(now func() time.Time) WebhookOption {
	return webhookOption(func(c *verifyConfig) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		c.now = now
		return nil
	})
}

// WithSecrets adds secrets to check the signature against, for secret
// rotation: the delivery is valid if it is signed with any one of them.
// Empty strings are ignored.
func WithSecrets(secrets ...string) WebhookOption {
	secrets = slices.Clone(secrets)
	return webhookOption(func(c *verifyConfig) error {
		c.extraSecrets = append(c.extraSecrets, secrets...)
		return nil
	})
}

// newVerifyConfig applies opts over the defaults and checks the result.
func newVerifyConfig(secret string, opts []VerifyOption) (*verifyConfig, error) {
	cfg := &verifyConfig{secret: secret, tolerance: DefaultSignatureTolerance, now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applyVerify(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.skipTimestamp && cfg.toleranceSet {
		return nil, errors.New("WithTolerance and WithoutTimestampCheck contradict each other")
	}
	if cfg.secret == "" && !slices.ContainsFunc(cfg.extraSecrets, func(s string) bool { return s != "" }) {
		return nil, errors.New("webhook secret is empty")
	}
	return cfg, nil
}

// SignPayload returns the X-Botonom-Signature value the API sends with
// payload signed by secret at time t: "t=<unix>,v1=<hex>". It is for tests
// and tools that deliver webhooks; an empty secret gives a header that
// VerifySignature refuses.
func SignPayload(payload []byte, secret string, t time.Time) string {
	var prefix [24]byte
	p := strconv.AppendInt(prefix[:0], t.Unix(), 10)
	var mac [sha256.Size]byte
	signPayload(&mac, secret, append(p, '.'), payload)

	var out [2 + 20 + 4 + 2*sha256.Size]byte
	b := append(out[:0], "t="...)
	b = append(b, p...)
	b = append(b, ",v1="...)
	const digits = "0123456789abcdef"
	for _, c := range mac {
		b = append(b, digits[c>>4], digits[c&0x0f])
	}
	return string(b)
}

// VerifySignature checks that header, the X-Botonom-Signature of a webhook
// delivery, signs payload, the raw request body exactly as received (never
// re-encoded JSON), with secret; and that its timestamp is within 5 minutes
// of now (see WithTolerance, WithoutTimestampCheck). Any one of several v1
// values may match (secret rotation, see also WithSecrets); unknown schemes
// such as v0 are ignored. The comparison runs in constant time.
//
// It returns nil for an authentic, fresh delivery and otherwise an error
// matching ErrMissingSignature, ErrInvalidSignatureHeader,
// ErrSignatureMismatch or ErrSignatureExpired with errors.Is. An empty
// secret or a bad option is an error too: nothing is ever accepted
// unchecked. Error texts never contain the secret or the signature.
func VerifySignature(payload []byte, header, secret string, opts ...VerifyOption) error {
	cfg, err := newVerifyConfig(secret, opts)
	if err != nil {
		return fmt.Errorf("botonom: verify signature: %w", err)
	}
	return cfg.verify(payload, header)
}

// signatureHeader is a parsed X-Botonom-Signature.
type signatureHeader struct {
	t    int64
	sigs [maxSignatures][sha256.Size]byte // the well-formed v1 values
	n    int                              // how many of sigs are set
}

// parseSignatureHeader parses "t=<unix>,v1=<hex>[,v1=<hex>…]". Spaces around
// "," and "=" are allowed, hex may be upper-case, unknown keys are skipped.
// It allocates nothing on success and reads header once.
func parseSignatureHeader(header string, h *signatureHeader) error {
	if len(header) > maxSignatureHeaderLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidSignatureHeader, maxSignatureHeaderLen)
	}
	var haveT bool
	var v1Count int
	rest := header
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, ",")
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("%w: an item is not key=value", ErrInvalidSignatureHeader)
		}
		key, value = trimSpace(key), trimSpace(value)
		switch key {
		case "t":
			if haveT {
				return fmt.Errorf("%w: t appears twice", ErrInvalidSignatureHeader)
			}
			t, ok := parseUnixSeconds(value)
			if !ok {
				return fmt.Errorf("%w: t is not a unix time in seconds (0 to year 9999)", ErrInvalidSignatureHeader)
			}
			h.t, haveT = t, true
		case "v1":
			v1Count++
			if v1Count > maxSignatures {
				return fmt.Errorf("%w: more than %d v1 signatures", ErrInvalidSignatureHeader, maxSignatures)
			}
			// A malformed v1 can never match; it is skipped here and the
			// header refused below only if no v1 is usable.
			if decodeSignatureHex(&h.sigs[h.n], value) {
				h.n++
			}
		}
	}
	switch {
	case !haveT:
		return fmt.Errorf("%w: no t", ErrInvalidSignatureHeader)
	case v1Count == 0:
		return fmt.Errorf("%w: no v1 signature", ErrInvalidSignatureHeader)
	case h.n == 0:
		return fmt.Errorf("%w: no v1 signature is %d hex digits", ErrInvalidSignatureHeader, 2*sha256.Size)
	}
	return nil
}

// verify is VerifySignature with the options already applied.
func (c *verifyConfig) verify(payload []byte, header string) error {
	if trimSpace(header) == "" {
		return ErrMissingSignature
	}
	var h signatureHeader
	if err := parseSignatureHeader(header, &h); err != nil {
		return err
	}

	// The MAC input is "<t>.<body>". t is written in canonical decimal
	// (parseUnixSeconds refuses any other form), so it is the string the
	// sender signed.
	var prefix [24]byte
	p := strconv.AppendInt(prefix[:0], h.t, 10)
	p = append(p, '.')

	// One HMAC per secret, however many v1 values the header carries.
	matched := false
	var mac [sha256.Size]byte
	for i := -1; i < len(c.extraSecrets) && !matched; i++ {
		secret := c.secret
		if i >= 0 {
			secret = c.extraSecrets[i]
		}
		if secret == "" {
			continue
		}
		signPayload(&mac, secret, p, payload)
		for j := 0; j < h.n; j++ {
			if hmac.Equal(mac[:], h.sigs[j][:]) {
				matched = true
				break
			}
		}
	}
	clear(mac[:])
	if !matched {
		return ErrSignatureMismatch
	}

	// The timestamp is checked only once the signature is known to be
	// authentic, so ErrSignatureExpired always means a real but stale (or
	// replayed) delivery.
	if c.skipTimestamp {
		return nil
	}
	// Whole seconds in int64: t is at most maxSignatureUnix and the clock
	// is clamped far inside int64, so nothing here can overflow or
	// saturate, however far t is from the clock.
	now := min(max(c.now().Unix(), -1<<62), 1<<62)
	tolerance := int64(c.tolerance / time.Second)
	switch age := now - h.t; {
	case age > tolerance:
		return fmt.Errorf("%w: signature timestamp is %s old, beyond the %s tolerance",
			ErrSignatureExpired, formatSeconds(age), c.tolerance)
	case -age > tolerance:
		return fmt.Errorf("%w: signature timestamp is %s in the future, beyond the %s tolerance",
			ErrSignatureExpired, formatSeconds(-age), c.tolerance)
	}
	return nil
}

// formatSeconds writes a positive number of seconds as a time.Duration
// would ("5m1s") when it fits in one, and as seconds otherwise.
func formatSeconds(s int64) string {
	if s > int64(math.MaxInt64/time.Second) {
		return strconv.FormatInt(s, 10) + "s"
	}
	return (time.Duration(s) * time.Second).String()
}

// signPayload writes HMAC-SHA256(key = secret, message = prefix ‖ payload)
// into out.
//
// It is RFC 2104 HMAC spelled out over crypto/sha256 rather than
// crypto/hmac because hmac.New allocates five times per call (its struct,
// two digests, two pads); this version keeps everything on the stack and
// hashes the body in place, without copying it behind the prefix. Tests
// check it against crypto/hmac for keys shorter than, equal to and longer
// than the block size.
func signPayload(out *[sha256.Size]byte, secret string, prefix, payload []byte) {
	var key [sha256.BlockSize]byte
	h := sha256.New()
	if len(secret) > sha256.BlockSize {
		// Keys longer than a block are hashed first (RFC 2104 §2); written
		// through a stack buffer so that the string is not copied to the heap.
		var chunk [sha256.BlockSize]byte
		for s := secret; s != ""; {
			n := copy(chunk[:], s)
			h.Write(chunk[:n])
			s = s[n:]
		}
		h.Sum(key[:0])
		clear(chunk[:])
		h.Reset()
	} else {
		copy(key[:], secret)
	}

	var pad [sha256.BlockSize]byte
	for i, k := range key {
		pad[i] = k ^ 0x36
	}
	h.Write(pad[:])
	h.Write(prefix)
	h.Write(payload)
	var inner [sha256.Size]byte
	h.Sum(inner[:0])

	h.Reset()
	for i, k := range key {
		pad[i] = k ^ 0x5c
	}
	h.Write(pad[:])
	h.Write(inner[:])
	h.Sum(out[:0])

	clear(key[:])
	clear(pad[:])
	h.Reset()
}

// maxSignatureUnix is the latest signature timestamp that is a plausible
// unix time in seconds: 9999-12-31T23:59:59Z. A larger t is most likely
// milliseconds (13 digits today), which must never pass as a time
// thousands of years ahead.
const maxSignatureUnix = 253402300799

// parseUnixSeconds parses a unix time written as the API writes it: decimal
// digits, no sign, no leading zero, at most maxSignatureUnix.
func parseUnixSeconds(s string) (int64, bool) {
	if s == "" || len(s) > 12 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var t int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		t = t*10 + int64(c-'0')
	}
	return t, t <= maxSignatureUnix
}

// decodeSignatureHex decodes 64 hex digits, either case, into dst and
// reports whether s was exactly that.
func decodeSignatureHex(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHexChar(s[2*i])
		lo, ok2 := fromHexChar(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// trimSpace trims the spaces and tabs a hand-written header may have around
// "," and "=".
func trimSpace(s string) string {
	return strings.Trim(s, " \t")
}

// rawBodyRecipes is where the recipes for verifying the raw body behind
// net/http, chi, gin and echo live.
const rawBodyRecipes = "github.com/botonom/botonom-go/examples/frameworks"

// SignatureFailureHint returns, for an error of VerifySignature,
// ConstructEvent or WebhookHandler that matches ErrSignatureMismatch, the
// likely causes, most likely first: the wrong secret, then a body changed
// before verification (read, re-encoded or re-indented by a framework,
// middleware or proxy), with a pointer to the recipes for net/http, chi,
// gin and echo in examples/frameworks. For any other
// error it returns "". It is for logs and tools, never for the answer to
// the sender: it would tell a forger what to try.
func SignatureFailureHint(err error) string {
	if !errors.Is(err, ErrSignatureMismatch) {
		return ""
	}
	return "likely causes, most likely first: " +
		"1) the wrong secret: not the one this endpoint was registered with " +
		"(a test/live mix-up, a rotated secret, stray spaces or quotes); " +
		"2) the body was changed before verification: read, re-encoded or re-indented " +
		"by a framework, a middleware or a proxy; verify the raw bytes as received, " +
		"see " + rawBodyRecipes
}
