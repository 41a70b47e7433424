package botonom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test vector of the API documentation's "Webhook deliveries" (its
// secret is api/openapi.yaml's example).
const (
	vectorSecret = "whsec_your_secret_here"
	vectorBody   = `{"id":"evt_1","type":"agent.task.completed","created_at":"2024-02-18T14:30:00Z","data":{"id":"tsk_001","agent_id":"agt_abc123","status":"completed"}}`
	vectorSig    = "4c533e86114e90bcf1dc89dd139a6cfe8f04451416164483fce84c7342a68f2b"
	vectorHeader = "t=1708272000,v1=" + vectorSig
	vectorUnix   = 1708272000
)

var vectorTime = time.Unix(vectorUnix, 0)

// webhookClockAt is a clock stopped at t.
func webhookClockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// atVectorTime checks timestamps against the vector's signing time.
func atVectorTime() VerifyOption { return WithClock(webhookClockAt(vectorTime)) }

// cryptoHMACHex is the reference signature, computed with crypto/hmac.
func cryptoHMACHex(secret string, t int64, payload []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", t)
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerifySignature_DesignTestVector(t *testing.T) {
	require.NoError(t, VerifySignature([]byte(vectorBody), vectorHeader, vectorSecret, atVectorTime()))
	assert.Equal(t, vectorHeader, SignPayload([]byte(vectorBody), vectorSecret, vectorTime))
}

func TestVerifySignature_OneChangedByteIsAMismatch(t *testing.T) {
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 0x01
		return string(b)
	}
	for name, tc := range map[string]struct{ body, header string }{
		"first body byte":       {flip(vectorBody, 0), vectorHeader},
		"middle body byte":      {flip(vectorBody, len(vectorBody)/2), vectorHeader},
		"last body byte":        {flip(vectorBody, len(vectorBody)-1), vectorHeader},
		"body one byte longer":  {vectorBody + " ", vectorHeader},
		"body one byte shorter": {vectorBody[:len(vectorBody)-1], vectorHeader},
		"timestamp":             {vectorBody, "t=1708272001,v1=" + vectorSig},
		"signature first":       {vectorBody, "t=1708272000,v1=5" + vectorSig[1:]},
		"signature last":        {vectorBody, "t=1708272000,v1=" + vectorSig[:63] + "a"},
	} {
		t.Run(name, func(t *testing.T) {
			err := VerifySignature([]byte(tc.body), tc.header, vectorSecret, atVectorTime())
			assert.ErrorIs(t, err, ErrSignatureMismatch)
		})
	}
	t.Run("secret", func(t *testing.T) {
		err := VerifySignature([]byte(vectorBody), vectorHeader, vectorSecret+"x", atVectorTime())
		assert.ErrorIs(t, err, ErrSignatureMismatch)
	})
}

func TestSignPayload_RoundTrip(t *testing.T) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	now := time.Date(2026, 2, 18, 14, 30, 5, 0, time.UTC)
	for name, body := range map[string][]byte{
		"nil":        nil,
		"empty":      {},
		"one byte":   {'x'},
		"1 MiB":      big,
		"not UTF-8":  {0xff, 0xfe, 0x00, 0xc3, 0x28, '.', ','},
		"JSON event": []byte(vectorBody),
	} {
		t.Run(name, func(t *testing.T) {
			header := SignPayload(body, vectorSecret, now)
			assert.Regexp(t, `^t=1771425005,v1=[0-9a-f]{64}$`, header)
			assert.Equal(t, "t=1771425005,v1="+cryptoHMACHex(vectorSecret, now.Unix(), body), header)
			require.NoError(t, VerifySignature(body, header, vectorSecret, WithClock(webhookClockAt(now))))
		})
	}
}

func TestSignPayload_MatchesCryptoHMACForEveryKeyLength(t *testing.T) {
	// Keys shorter than, as long as and longer than SHA-256's 64-byte block
	// take different paths through HMAC.
	body := []byte(vectorBody)
	for _, n := range []int{1, 2, 22, 31, 32, 33, 63, 64, 65, 100, 128, 129, 1000} {
		secret := strings.Repeat("k", n-1) + strconv.Itoa(n%10)
		header := SignPayload(body, secret, vectorTime)
		assert.Equal(t, "t=1708272000,v1="+cryptoHMACHex(secret, vectorUnix, body), header, "key of %d bytes", n)
		assert.NoError(t, VerifySignature(body, header, secret, atVectorTime()), "key of %d bytes", n)
	}
}

func TestVerifySignature_HeaderParsing(t *testing.T) {
	upper := strings.ToUpper(vectorSig)
	wrong := strings.Repeat("ab", 32)
	for name, tc := range map[string]struct {
		header string
		want   error // nil: the header verifies
	}{
		"missing":                         {"", ErrMissingSignature},
		"blank":                           {"  \t ", ErrMissingSignature},
		"no t":                            {"v1=" + vectorSig, ErrInvalidSignatureHeader},
		"no v1":                           {"t=1708272000", ErrInvalidSignatureHeader},
		"v0 only":                         {"t=1708272000,v0=" + vectorSig, ErrInvalidSignatureHeader},
		"t not a number":                  {"t=yesterday,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"t empty":                         {"t=,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"t negative":                      {"t=-1708272000,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"t with a plus sign":              {"t=+1708272000,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"t with a leading zero":           {"t=01708272000,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"t fractional":                    {"t=1708272000.0,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"t in milliseconds overflowing":   {"t=1708272000000000000000,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"t duplicated":                    {"t=1708272000,t=1708272000,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"T upper-case is not t":           {"T=1708272000,v1=" + vectorSig, ErrInvalidSignatureHeader},
		"item without =":                  {"t=1708272000,v1=" + vectorSig + ",junk", ErrInvalidSignatureHeader},
		"odd-length hex":                  {"t=1708272000,v1=" + vectorSig[:63], ErrInvalidSignatureHeader},
		"short hex":                       {"t=1708272000,v1=" + vectorSig[:62], ErrInvalidSignatureHeader},
		"long hex":                        {"t=1708272000,v1=" + vectorSig + "00", ErrInvalidSignatureHeader},
		"non-hex":                         {"t=1708272000,v1=" + vectorSig[:62] + "zz", ErrInvalidSignatureHeader},
		"empty v1":                        {"t=1708272000,v1=", ErrInvalidSignatureHeader},
		"nine v1":                         {"t=1708272000" + strings.Repeat(",v1="+wrong, 8) + ",v1=" + vectorSig, ErrInvalidSignatureHeader},
		"over 8 KiB":                      {vectorHeader + ",x=" + strings.Repeat("0", 8<<10), ErrInvalidSignatureHeader},
		"wrong signature":                 {"t=1708272000,v1=" + wrong, ErrSignatureMismatch},
		"malformed v1 beside a wrong one": {"t=1708272000,v1=zz,v1=" + wrong, ErrSignatureMismatch},

		"canonical":                      {vectorHeader, nil},
		"spaces around , and =":          {" t = 1708272000 ,  v1 =" + vectorSig + " ", nil},
		"tabs around , and =":            {"t\t=\t1708272000\t,\tv1=" + vectorSig, nil},
		"upper-case hex":                 {"t=1708272000,v1=" + upper, nil},
		"v1 before t":                    {"v1=" + vectorSig + ",t=1708272000", nil},
		"v0 and v2 ignored":              {"t=1708272000,v0=" + wrong + ",v1=" + vectorSig + ",v2=not-hex", nil},
		"malformed v1 beside a good one": {"t=1708272000,v1=zz,v1=" + vectorSig, nil},
		"eight v1, the last matching":    {"t=1708272000" + strings.Repeat(",v1="+wrong, 7) + ",v1=" + vectorSig, nil},
		"unknown keys up to 8 KiB":       {vectorHeader + strings.Repeat(",x=1", 2000), nil},
	} {
		t.Run(name, func(t *testing.T) {
			err := VerifySignature([]byte(vectorBody), tc.header, vectorSecret, atVectorTime())
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.want)
			assert.NotContains(t, err.Error(), vectorSecret)
			assert.NotContains(t, err.Error(), vectorSig[:16])
		})
	}
}

func TestVerifySignature_TenThousandPairsIsBoundedWork(t *testing.T) {
	body := []byte(vectorBody)
	pairs := strings.Repeat(",v1="+strings.Repeat("ab", 32), 10_000)
	for name, header := range map[string]string{
		"10,000 v1 pairs":                "t=1708272000" + pairs,
		"10,000 v1 pairs, matching last": "t=1708272000" + pairs + ",v1=" + vectorSig,
		"10,000 t pairs":                 strings.Repeat("t=1,", 10_000) + "v1=" + vectorSig,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := VerifySignature(body, header, vectorSecret, atVectorTime())
			assert.ErrorIs(t, err, ErrInvalidSignatureHeader)
			assert.Less(t, time.Since(start), 100*time.Millisecond)
		})
	}
}

func TestVerifySignature_EmptySecretIsAnError(t *testing.T) {
	body := []byte(vectorBody)
	for name, tc := range map[string]struct {
		secret string
		opts   []VerifyOption
	}{
		"empty secret":                  {"", nil},
		"empty secret and empty extras": {"", []VerifyOption{WithSecrets("", "")}},
		"empty secret, no extras given": {"", []VerifyOption{WithSecrets()}},
	} {
		t.Run(name, func(t *testing.T) {
			err := VerifySignature(body, vectorHeader, tc.secret, append(tc.opts, atVectorTime())...)
			require.Error(t, err)
			assert.ErrorContains(t, err, "secret is empty")
			// An empty key is an HMAC anybody can compute: even a header
			// signed with it must not pass.
			forged := SignPayload(body, "", vectorTime)
			assert.Error(t, VerifySignature(body, forged, tc.secret, append(tc.opts, atVectorTime())...))
		})
	}
	t.Run("empty secret with a real extra one", func(t *testing.T) {
		assert.NoError(t, VerifySignature(body, vectorHeader, "", WithSecrets(vectorSecret), atVectorTime()))
		forged := SignPayload(body, "", vectorTime)
		assert.ErrorIs(t, VerifySignature(body, forged, "", WithSecrets(vectorSecret), atVectorTime()), ErrSignatureMismatch)
	})
}

func TestVerifySignature_Tolerance(t *testing.T) {
	body := []byte(vectorBody)
	for name, tc := range map[string]struct {
		now     time.Duration // clock minus signing time
		opts    []VerifyOption
		wantErr string // "" passes; else ErrSignatureExpired with this text
	}{
		"signed now":                {0, nil, ""},
		"4:59 old":                  {4*time.Minute + 59*time.Second, nil, ""},
		"exactly 5:00 old":          {5 * time.Minute, nil, ""},
		"5:01 old":                  {5*time.Minute + time.Second, nil, "signature timestamp is 5m1s old, beyond the 5m0s tolerance"},
		"4:59 in the future":        {-(4*time.Minute + 59*time.Second), nil, ""},
		"5:01 in the future":        {-(5*time.Minute + time.Second), nil, "signature timestamp is 5m1s in the future, beyond the 5m0s tolerance"},
		"a year old":                {365 * 24 * time.Hour, nil, "8760h0m0s old"},
		"59 min old, 1 h tolerance": {59 * time.Minute, []VerifyOption{WithTolerance(time.Hour)}, ""},
		"31 s old, 30 s tolerance":  {31 * time.Second, []VerifyOption{WithTolerance(30 * time.Second)}, "31s old, beyond the 30s tolerance"},
		"5:00.9 old, whole seconds": {5*time.Minute + 900*time.Millisecond, nil, ""},
		"5:01.5 old, whole seconds": {5*time.Minute + 1500*time.Millisecond, nil, "5m1s old"},
		"sub-second tolerance":      {time.Second, []VerifyOption{WithTolerance(500 * time.Millisecond)}, "1s old, beyond the 500ms tolerance"},
	} {
		t.Run(name, func(t *testing.T) {
			opts := append([]VerifyOption{WithClock(webhookClockAt(vectorTime.Add(tc.now)))}, tc.opts...)
			err := VerifySignature(body, vectorHeader, vectorSecret, opts...)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrSignatureExpired)
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// A signature timestamp far from the clock is refused however far it is:
// the check compares whole seconds in int64, which cannot saturate the way
// a time.Duration does past 292 years. A t that is no plausible unix time
// in seconds (milliseconds, past year 9999, signed) is a malformed header.
// Each header carries the true HMAC of its t, so only the timestamp check
// stands between it and acceptance.
func TestVerifySignature_TimestampsFarFromTheClock(t *testing.T) {
	body := []byte(vectorBody)
	now := vectorTime
	signedAt := func(ts string) string {
		n, err := strconv.ParseInt(ts, 10, 64)
		require.NoError(t, err)
		return "t=" + ts + ",v1=" + cryptoHMACHex(vectorSecret, n, body)
	}
	for name, tc := range map[string]struct {
		t    string
		want error
	}{
		"milliseconds, now":      {strconv.FormatInt(now.UnixMilli(), 10), ErrInvalidSignatureHeader},
		"microseconds, now":      {strconv.FormatInt(now.UnixMicro(), 10), ErrInvalidSignatureHeader},
		"1<<62":                  {strconv.FormatInt(1<<62, 10), ErrInvalidSignatureHeader},
		"max int64":              {strconv.FormatInt(math.MaxInt64, 10), ErrInvalidSignatureHeader},
		"min int64":              {strconv.FormatInt(math.MinInt64, 10), ErrInvalidSignatureHeader},
		"negative":               {"-1", ErrInvalidSignatureHeader},
		"year 10000":             {"253402300800", ErrInvalidSignatureHeader},
		"year 9999, last second": {"253402300799", ErrSignatureExpired},
		"0, 1970":                {"0", ErrSignatureExpired},
		"293 years ahead":        {strconv.FormatInt(now.Unix()+293*365*24*3600, 10), ErrSignatureExpired},
		"293 years ago":          {strconv.FormatInt(now.Unix()-293*365*24*3600, 10), ErrInvalidSignatureHeader},
		"301 s ahead":            {strconv.FormatInt(now.Unix()+301, 10), ErrSignatureExpired},
		"300 s ahead":            {strconv.FormatInt(now.Unix()+300, 10), nil},
	} {
		t.Run(name, func(t *testing.T) {
			err := VerifySignature(body, signedAt(tc.t), vectorSecret, atVectorTime())
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("clock at the ends of time", func(t *testing.T) {
		header := SignPayload(body, vectorSecret, now)
		for _, clock := range []time.Time{time.Unix(math.MaxInt64, 0), time.Unix(math.MinInt64, 0), {}} {
			assert.ErrorIs(t, VerifySignature(body, header, vectorSecret, WithClock(webhookClockAt(clock))), ErrSignatureExpired, clock)
		}
	})
	t.Run("the largest tolerance still refuses a year-9999 timestamp", func(t *testing.T) {
		err := VerifySignature(body, signedAt("253402300799"), vectorSecret, atVectorTime(), WithTolerance(math.MaxInt64))
		assert.ErrorIs(t, err, ErrSignatureExpired)
	})
}

func TestVerifySignature_DefaultClockIsNow(t *testing.T) {
	body := []byte(vectorBody)
	assert.NoError(t, VerifySignature(body, SignPayload(body, vectorSecret, time.Now()), vectorSecret))
	assert.ErrorIs(t, VerifySignature(body, vectorHeader, vectorSecret), ErrSignatureExpired)
}

func TestVerifySignature_ExpiredOnlyOnceAuthentic(t *testing.T) {
	// An old delivery with a bad signature is a mismatch, not "expired":
	// ErrSignatureExpired always means the API did sign it.
	err := VerifySignature([]byte(vectorBody+" "), vectorHeader, vectorSecret, WithClock(webhookClockAt(vectorTime.Add(time.Hour))))
	assert.ErrorIs(t, err, ErrSignatureMismatch)
	assert.NotErrorIs(t, err, ErrSignatureExpired)
}

func TestVerifySignature_BadOptionsAreErrors(t *testing.T) {
	body := []byte(vectorBody)
	for name, tc := range map[string]struct {
		opts []VerifyOption
		want string
	}{
		"zero tolerance":     {[]VerifyOption{WithTolerance(0)}, "WithTolerance: 0s is not positive"},
		"negative tolerance": {[]VerifyOption{WithTolerance(-time.Minute)}, "WithTolerance: -1m0s is not positive"},
		"nil clock":          {[]VerifyOption{WithClock(nil)}, "WithClock: nil clock"},
		"tolerance and skip": {[]VerifyOption{WithTolerance(time.Hour), WithoutTimestampCheck()}, "WithTolerance and WithoutTimestampCheck contradict"},
	} {
		t.Run(name, func(t *testing.T) {
			// The vector's header would pass (it is checked at its own
			// time): the option must not be ignored, nor turn a check off.
			err := VerifySignature(body, vectorHeader, vectorSecret, append(tc.opts, atVectorTime())...)
			require.Error(t, err)
			assert.ErrorContains(t, err, "botonom: verify signature: "+tc.want)
		})
	}
	t.Run("nil option is skipped", func(t *testing.T) {
		assert.NoError(t, VerifySignature(body, vectorHeader, vectorSecret, nil, atVectorTime()))
	})
}

func TestVerifySignature_WithoutTimestampCheck(t *testing.T) {
	body := []byte(vectorBody)
	yearLater := WithClock(webhookClockAt(vectorTime.AddDate(1, 0, 0)))
	assert.NoError(t, VerifySignature(body, vectorHeader, vectorSecret, WithoutTimestampCheck(), yearLater))
	assert.ErrorIs(t,
		VerifySignature([]byte(vectorBody+" "), vectorHeader, vectorSecret, WithoutTimestampCheck(), yearLater),
		ErrSignatureMismatch)
	assert.ErrorIs(t,
		VerifySignature(body, "t=1708272000,v1="+strings.Repeat("0", 64), vectorSecret, WithoutTimestampCheck()),
		ErrSignatureMismatch)
	assert.ErrorIs(t, VerifySignature(body, "", vectorSecret, WithoutTimestampCheck()), ErrMissingSignature)
}

func TestVerifySignature_Rotation(t *testing.T) {
	body := []byte(vectorBody)
	const oldSecret, newSecret = "whsec_old", "whsec_new"
	sigWith := func(secret string) string { return cryptoHMACHex(secret, vectorUnix, body) }
	twoV1 := fmt.Sprintf("t=%d,v1=%s,v1=%s", vectorUnix, sigWith(oldSecret), sigWith(newSecret))

	for name, tc := range map[string]struct {
		header string
		secret string
		opts   []VerifyOption
		want   error
	}{
		"two v1, the second matches":         {twoV1, newSecret, nil, nil},
		"two v1, the first matches":          {twoV1, oldSecret, nil, nil},
		"two v1, neither matches":            {twoV1, "whsec_other", nil, ErrSignatureMismatch},
		"WithSecrets, the extra one matches": {SignPayload(body, newSecret, vectorTime), oldSecret, []VerifyOption{WithSecrets(newSecret)}, nil},
		"WithSecrets, the first matches":     {SignPayload(body, oldSecret, vectorTime), oldSecret, []VerifyOption{WithSecrets(newSecret)}, nil},
		"WithSecrets twice":                  {SignPayload(body, newSecret, vectorTime), "whsec_a", []VerifyOption{WithSecrets("whsec_b"), WithSecrets("", newSecret)}, nil},
		"WithSecrets, none matches":          {SignPayload(body, "whsec_other", vectorTime), oldSecret, []VerifyOption{WithSecrets(newSecret)}, ErrSignatureMismatch},
	} {
		t.Run(name, func(t *testing.T) {
			err := VerifySignature(body, tc.header, tc.secret, append(tc.opts, atVectorTime())...)
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestWithSecrets_CopiesItsArguments(t *testing.T) {
	body := []byte(vectorBody)
	secrets := []string{vectorSecret}
	opt := WithSecrets(secrets...)
	secrets[0] = "whsec_changed"
	assert.NoError(t, VerifySignature(body, vectorHeader, "whsec_other", opt, atVectorTime()))
}

func TestVerifySignature_AtMostTwoAllocations(t *testing.T) {
	body := make([]byte, 1<<10)
	header := SignPayload(body, vectorSecret, vectorTime)
	clock := atVectorTime()
	allocs := testing.AllocsPerRun(100, func() {
		if err := VerifySignature(body, header, vectorSecret, clock); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 2.0)
}

// FuzzVerifySignature checks that no header and body make VerifySignature
// panic, that every failure is one of the documented errors, and that a
// header is accepted only if it carries the exact HMAC of the body (computed
// here with crypto/hmac, independently of the code under test).
func FuzzVerifySignature(f *testing.F) {
	f.Add(vectorHeader, []byte(vectorBody))
	f.Add(" t = 1708272000 , v1 = "+strings.ToUpper(vectorSig), []byte(vectorBody))
	f.Add("t=1708272000,v0=00,v1=zz,v1="+vectorSig+",v2=", []byte(vectorBody))
	f.Add("v1="+vectorSig+",t=1708272000", []byte(vectorBody))
	f.Add("t=1708272000,v1="+vectorSig, []byte(vectorBody+"x"))
	f.Add("t=1708272000,t=1708272000,v1="+vectorSig, []byte(vectorBody))
	f.Add("t=01708272000,v1="+vectorSig, []byte(vectorBody))
	f.Add("t=-1,v1="+vectorSig[:63], []byte{})
	f.Add("t=,v1=,=,,", []byte(nil))
	f.Add("v0="+vectorSig, []byte(vectorBody))
	f.Add(strings.Repeat("v1=00,", 20), []byte("{}"))
	f.Add("t=99999999999999999999,v1="+vectorSig, []byte(vectorBody))
	f.Add("t=1708272000,v1="+cryptoHMACHex(vectorSecret, vectorUnix, []byte{0xff, 0x00}), []byte{0xff, 0x00})

	f.Fuzz(func(t *testing.T, header string, payload []byte) {
		err := VerifySignature(payload, header, vectorSecret, WithoutTimestampCheck())
		if err != nil {
			if !errors.Is(err, ErrMissingSignature) && !errors.Is(err, ErrInvalidSignatureHeader) && !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("undocumented error %v for header %q", err, header)
			}
		} else {
			ts, ok := oracleTimestamp(header)
			if !ok {
				t.Fatalf("accepted header %q without one integer t", header)
			}
			want := cryptoHMACHex(vectorSecret, ts, payload)
			if !strings.Contains(strings.ToLower(header), want) {
				t.Fatalf("accepted header %q, which lacks the expected v1 %s", header, want)
			}
		}

		// Whatever the header, with the clock at the vector's time only a
		// timestamp within the tolerance is accepted.
		if VerifySignature(payload, header, vectorSecret, atVectorTime()) == nil {
			ts, _ := oracleTimestamp(header)
			if d := ts - vectorUnix; d > 300 || d < -300 {
				t.Fatalf("accepted header %q, %d s away from the clock", header, d)
			}
		}

		// What SignPayload produces for this body always verifies.
		signed := SignPayload(payload, vectorSecret, vectorTime)
		if signed != "t=1708272000,v1="+cryptoHMACHex(vectorSecret, vectorUnix, payload) {
			t.Fatalf("SignPayload differs from crypto/hmac: %q", signed)
		}
		if err := VerifySignature(payload, signed, vectorSecret, atVectorTime()); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}

// FuzzVerifySignature_Tolerance signs a body with any timestamp and checks
// it against any clock and tolerance: an authentic signature verifies if
// and only if its timestamp is a unix time in seconds (0 to year 9999) no
// further from the clock than the tolerance, in whole seconds. Nothing
// further ever verifies, however far (the overflow of issue 12).
func FuzzVerifySignature_Tolerance(f *testing.F) {
	f.Add(int64(vectorUnix), int64(vectorUnix), int64(5*time.Minute))
	f.Add(int64(vectorUnix)*1000, int64(vectorUnix), int64(5*time.Minute))
	f.Add(int64(1<<62), int64(vectorUnix), int64(5*time.Minute))
	f.Add(int64(math.MaxInt64), int64(vectorUnix), int64(math.MaxInt64))
	f.Add(int64(0), int64(vectorUnix), int64(math.MaxInt64))
	f.Add(int64(253402300799), int64(math.MinInt64), int64(time.Second))
	f.Add(int64(vectorUnix+9223372036), int64(vectorUnix), int64(time.Hour))
	body := []byte(vectorBody)
	f.Fuzz(func(t *testing.T, ts, clock int64, tolerance int64) {
		if tolerance <= 0 {
			tolerance = 1 + tolerance&math.MaxInt32
		}
		header := "t=" + strconv.FormatInt(ts, 10) + ",v1=" + cryptoHMACHex(vectorSecret, ts, body)
		now := time.Unix(clock, 0)
		err := VerifySignature(body, header, vectorSecret, WithClock(webhookClockAt(now)), WithTolerance(time.Duration(tolerance)))

		// The oracle, in big-enough arithmetic: |now - ts| <= tolerance
		// seconds, with now clamped as VerifySignature documents.
		nowSec := min(max(now.Unix(), -1<<62), 1<<62)
		tolSec := tolerance / int64(time.Second)
		plausible := ts >= 0 && ts <= 253402300799
		var far bool
		if ts >= nowSec {
			far = uint64(ts)-uint64(nowSec) > uint64(tolSec)
		} else {
			far = uint64(nowSec)-uint64(ts) > uint64(tolSec)
		}
		switch {
		case !plausible:
			if !errors.Is(err, ErrInvalidSignatureHeader) {
				t.Fatalf("t=%d (no unix time in seconds) with clock %d: got %v", ts, clock, err)
			}
		case far:
			if !errors.Is(err, ErrSignatureExpired) {
				t.Fatalf("t=%d is beyond %s of clock %d, yet got %v", ts, time.Duration(tolerance), nowSec, err)
			}
		case err != nil:
			t.Fatalf("t=%d within %s of clock %d refused: %v", ts, time.Duration(tolerance), nowSec, err)
		}
	})
}

// oracleTimestamp finds t in a header the simple, slow way.
func oracleTimestamp(header string) (int64, bool) {
	var ts int64
	found := 0
	for _, pair := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(pair, "=")
		if strings.TrimSpace(k) != "t" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, false
		}
		ts = n
		found++
	}
	return ts, found == 1
}

func benchBodies() []struct {
	name string
	body []byte
} {
	r := rand.New(rand.NewPCG(1, 2))
	out := []struct {
		name string
		body []byte
	}{{"1KiB", make([]byte, 1<<10)}, {"64KiB", make([]byte, 64<<10)}}
	for _, b := range out {
		for i := range b.body {
			b.body[i] = byte(r.Uint32())
		}
	}
	return out
}

func BenchmarkVerifySignature(b *testing.B) {
	for _, bb := range benchBodies() {
		b.Run(bb.name, func(b *testing.B) {
			header := SignPayload(bb.body, vectorSecret, vectorTime)
			clock := atVectorTime()
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := VerifySignature(bb.body, header, vectorSecret, clock); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareHMAC is the floor VerifySignature is measured against: the
// HMAC of "t." and the body with crypto/hmac, a hex decode and a constant-
// time compare, with no header parsing and no timestamp check.
func BenchmarkBareHMAC(b *testing.B) {
	for _, bb := range benchBodies() {
		b.Run(bb.name, func(b *testing.B) {
			key := []byte(vectorSecret)
			prefix := []byte("1708272000.")
			sigHex := []byte(cryptoHMACHex(vectorSecret, vectorUnix, bb.body))
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				mac := hmac.New(sha256.New, key)
				mac.Write(prefix)
				mac.Write(bb.body)
				var sum, want [sha256.Size]byte
				if _, err := hex.Decode(want[:], sigHex); err != nil {
					b.Fatal(err)
				}
				if !hmac.Equal(mac.Sum(sum[:0]), want[:]) {
					b.Fatal("mismatch")
				}
			}
		})
	}
}
