package botonom

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSignatureFailureHint_NamesTheCausesInOrder(t *testing.T) {
	for _, err := range []error{ErrSignatureMismatch, fmt.Errorf("verify: %w", ErrSignatureMismatch)} {
		hint := SignatureFailureHint(err)
		secret, body, recipes := strings.Index(hint, "wrong secret"), strings.Index(hint, "body was changed"), strings.Index(hint, "examples/frameworks")
		assert.True(t, secret >= 0 && body > secret && recipes > body, "want the secret, then the body, then the recipes: %q", hint)
	}
	for _, err := range []error{nil, ErrMissingSignature, ErrInvalidSignatureHeader, ErrSignatureExpired, ErrInvalidEvent} {
		assert.Empty(t, SignatureFailureHint(err), "%v", err)
	}
}

// The hint goes to the handler's log, never to the sender: a forger learns
// nothing from the answer.
func TestWebhookHandler_MismatchLogsTheHintNotTheAnswer(t *testing.T) {
	event := envelope(EventTaskCompleted, eventTaskJSON)
	for name, tc := range map[string]struct {
		secret   string // the delivery is signed with
		signedAt time.Time
		hint     bool
	}{
		"wrong secret":  {secret: "whsec_other", signedAt: vectorTime, hint: true},
		"expired":       {secret: vectorSecret, signedAt: vectorTime.Add(-time.Hour)},
		"no signature":  {signedAt: vectorTime},
		"right and new": {secret: vectorSecret, signedAt: vectorTime},
	} {
		t.Run(name, func(t *testing.T) {
			var logs lockedBuffer
			h := WebhookHandler(vectorSecret, (&recordingFn{}).handle,
				WithClock(webhookClockAt(vectorTime)),
				WithHandlerLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhookRequest(strings.NewReader(event), []byte(event), tc.secret, tc.signedAt))

			assert.NotContains(t, w.Body.String(), "secret")
			assert.NotContains(t, w.Body.String(), "frameworks")
			if tc.hint {
				assert.Equal(t, "invalid signature\n", w.Body.String())
				assert.Contains(t, logs.String(), "hint=")
				assert.Contains(t, logs.String(), "examples/frameworks")
			} else {
				assert.NotContains(t, logs.String(), "hint=")
			}
			assert.NotContains(t, logs.String(), vectorSecret)
		})
	}
}
