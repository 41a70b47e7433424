package botonomtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	botonom "github.com/botonom/botonom-go"
)

// SendEvent delivers a webhook event to webhookURL as the API would: the envelope
// {"id": "evt_…", "type": eventType, "created_at": …, "data": data} (data
// encoded with encoding/json as given; nil becomes {}), signed with secret
// in X-Botonom-Signature by botonom.SignPayload at the current time, POSTed
// with Content-Type application/json. The caller closes the answer's body.
// Unknown event types are sent as given, to test that receivers accept
// them.
func (s *Server) SendEvent(ctx context.Context, webhookURL, secret string, eventType botonom.EventType, data any) (*http.Response, error) {
	raw := json.RawMessage("{}")
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, fmt.Errorf("botonomtest: SendEvent: encode data: %w", err)
		}
		raw = b
	}
	s.mu.Lock()
	id := s.nextID("evt")
	s.mu.Unlock()
	body, err := json.Marshal(struct {
		ID        string            `json:"id"`
		Type      botonom.EventType `json:"type"`
		CreatedAt time.Time         `json:"created_at"`
		Data      json.RawMessage   `json:"data"`
	}{id, eventType, s.now().UTC().Truncate(time.Second), raw})
	if err != nil {
		return nil, fmt.Errorf("botonomtest: SendEvent: encode event: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("botonomtest: SendEvent: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "botonomtest/"+botonom.Version)
	req.Header.Set("X-Botonom-Signature", botonom.SignPayload(body, secret, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("botonomtest: SendEvent: %w", err)
	}
	return resp, nil
}
