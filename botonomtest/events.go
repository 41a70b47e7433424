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
// them. A redirect is not followed: it is a failed delivery, as with
// DeliverEvent.
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
	ev := &botonom.Event{ID: id, Type: eventType, CreatedAt: s.now().UTC().Truncate(time.Second), Data: raw}
	// Signed by the real clock, whatever WithClock says: the receiver
	// checks the signature's age against its own.
	resp, err := DeliverEvent(ctx, nil, webhookURL, secret, ev, time.Now())
	if err != nil {
		return nil, fmt.Errorf("botonomtest: SendEvent: %w", err)
	}
	return resp, nil
}

// DeliverEvent POSTs ev to webhookURL as the API delivers it: the JSON
// envelope with Content-Type application/json, signed with secret at
// signedAt in X-Botonom-Signature (botonom.SignPayload). hc nil means
// http.DefaultClient. The caller closes the answer's body.
//
// Like the API's deliveries, it does not follow redirects, whatever hc's
// CheckRedirect says: a receiver that answers 301, 302, 303, 307 or 308 (a
// wrong route, a missing trailing slash) has not taken the event, and
// DeliverEvent returns an error naming the redirect and no answer.
func DeliverEvent(ctx context.Context, hc *http.Client, webhookURL, secret string, ev *botonom.Event, signedAt time.Time) (*http.Response, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "botonomtest/"+botonom.Version)
	req.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, secret, signedAt))
	if hc == nil {
		hc = http.DefaultClient
	}
	once := *hc
	once.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := once.Do(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		_ = resp.Body.Close()
		return nil, fmt.Errorf("the receiver at %s answered %s to %q: a redirect is a failed delivery (the API does not follow redirects; register the final URL)",
			req.URL.Redacted(), resp.Status, resp.Header.Get("Location"))
	}
	return resp, nil
}
