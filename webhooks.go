package botonom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// WebhooksService registers the endpoints Botonom delivers events to.
type WebhooksService service

// EventType names a webhook event: one of the Event… constants below, or
// one the API added since (an Event of an unknown type still decodes).
type EventType string

// EventTaskCompleted is delivered when an agent finishes a task; Data is a Task (Event.Task).
const EventTaskCompleted EventType = "agent.task.completed"

// EventMessageReceived is delivered when an agent receives a message; Data is a Message (Event.Message).
const EventMessageReceived EventType = "agent.message.received"

// EventMessageSent is delivered when an agent sends a message; Data is a Message (Event.Message).
const EventMessageSent EventType = "agent.message.sent"

// EventStatusChanged is delivered when an agent goes online or offline; Data is a StatusChange (Event.StatusChange).
const EventStatusChanged EventType = "agent.status.changed"

// EventSkillInstalled is delivered when a skill is installed on an agent; Data is a SkillInstalled (Event.SkillInstalled).
const EventSkillInstalled EventType = "agent.skill.installed"

// EventInvoiceCreated is delivered when an invoice is issued; Data is an Invoice (Event.Invoice).
const EventInvoiceCreated EventType = "billing.invoice.created"

// eventTypes are the event types this SDK knows, in the API's order.
var eventTypes = [...]EventType{
	EventTaskCompleted, EventMessageReceived, EventMessageSent,
	EventStatusChanged, EventSkillInstalled, EventInvoiceCreated,
}

// EventTypes returns the event types this SDK knows, in the API's order, in
// a new slice each time (changing it changes nothing else). The API may
// deliver others; Register accepts any well-formed name.
func EventTypes() []EventType {
	return slices.Clone(eventTypes[:])
}

// Known reports whether t is one of EventTypes.
func (t EventType) Known() bool {
	return slices.Contains(eventTypes[:], t)
}

// maxEventTypeLen bounds an event name Register accepts.
const maxEventTypeLen = 128

// wellFormed reports whether t has the shape of an event name: two or more
// dot-separated words of lowercase letters, digits and underscores, each
// starting with a letter ("agent.task.completed"). Which names exist is the
// API's to say.
func (t EventType) wellFormed() bool {
	if len(t) > maxEventTypeLen {
		return false
	}
	words := 0
	for rest, more := string(t), true; more; words++ {
		var word string
		word, rest, more = strings.Cut(rest, ".")
		if word == "" || word[0] < 'a' || word[0] > 'z' {
			return false
		}
		for i := 1; i < len(word); i++ {
			if c := word[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
				return false
			}
		}
	}
	return words >= 2
}

// Webhook is a registered webhook endpoint. The API never echoes the secret.
type Webhook struct {
	ID        string      `json:"id"`
	URL       string      `json:"url"`
	Events    []EventType `json:"events"`
	CreatedAt time.Time   `json:"created_at"`
}

// RegisterWebhookRequest is what Webhooks.Register sends.
type RegisterWebhookRequest struct {
	// URL is the absolute http(s) address deliveries are POSTed to.
	URL string `json:"url"`
	// Events are the event types to deliver; at least one. The SDK checks
	// only their shape (lowercase dotted words), so a name the API added
	// after this SDK was released can be subscribed to; the API refuses a
	// name it does not know.
	Events []EventType `json:"events"`
	// Secret signs every delivery (X-Botonom-Signature); required, since
	// the API never shows it again and an unsigned delivery cannot be
	// trusted. Use a long random string, conventionally "whsec_…".
	Secret string `json:"secret"`
}

// opRegisterWebhook is Register, as a CallTrace and middleware see it.
var opRegisterWebhook = &Call{Operation: "webhooks.register", Method: http.MethodPost, Route: "/webhooks"}

func (r *RegisterWebhookRequest) validate() error {
	if r == nil {
		return invalidArgf("register webhook: nil request")
	}
	if strings.TrimSpace(r.URL) == "" {
		return invalidArgf("register webhook: url is empty")
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" ||
		strings.ContainsFunc(r.URL, unicode.IsSpace) {
		return invalidArgf("register webhook: url %q is not an absolute http(s) URL", r.URL)
	}
	if len(r.Events) == 0 {
		return invalidArgf("register webhook: events is empty")
	}
	for i, ev := range r.Events {
		if !ev.wellFormed() {
			return invalidArgf("register webhook: events[%d] %q is not an event name (lowercase dotted words, like %q)", i, ev, EventTaskCompleted)
		}
	}
	if strings.TrimSpace(r.Secret) == "" {
		return invalidArgf("register webhook: secret is empty")
	}
	return nil
}

// Register registers a webhook endpoint for the given events.
//
// API: POST /webhooks
func (s *WebhooksService) Register(ctx context.Context, body *RegisterWebhookRequest, opts ...Option) (*Webhook, *Response, error) {
	if err := body.validate(); err != nil {
		return nil, nil, err
	}
	return call[Webhook](ctx, s.client, opRegisterWebhook, "webhooks", body, opts)
}

// Errors of ConstructEvent and the Event accessors; match them with
// errors.Is.
var (
	// ErrInvalidEvent: a payload (signed, so from the API) is not an event
	// envelope: not JSON, or without id or type; or an event's data does
	// not decode into the accessor's type.
	ErrInvalidEvent = errors.New("botonom: invalid webhook event")
	// ErrWrongEventType: an accessor was called on an event of another
	// type, e.g. Task on an agent.status.changed event.
	ErrWrongEventType = errors.New("botonom: wrong event type")
)

// Event is one webhook delivery. Data is the raw JSON of the event's object;
// the accessors (Task, Message, StatusChange, SkillInstalled, Invoice)
// decode it for the known types. An event of a type this SDK does not know
// yet decodes too: switch on Type and read Data yourself.
//
// Delivery is at least once: the same ID can arrive twice, even at two
// replicas at once. WithDeduplication (or a DedupStore used directly) makes
// the processing of an event happen once.
type Event struct {
	ID        string          `json:"id"`
	Type      EventType       `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// StatusChange is the data of an agent.status.changed event.
type StatusChange struct {
	AgentID        string      `json:"agent_id"`
	Status         AgentStatus `json:"status"`
	PreviousStatus AgentStatus `json:"previous_status"`
}

// SkillInstalled is the data of an agent.skill.installed event.
type SkillInstalled struct {
	AgentID string `json:"agent_id"`
	Skill   string `json:"skill"`
}

// Invoice is the data of a billing.invoice.created event.
type Invoice struct {
	ID          string    `json:"id"`
	AmountDue   int64     `json:"amount_due"` // in cents of Currency
	Currency    string    `json:"currency"`   // ISO 4217, lower case: "usd"
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	CreatedAt   time.Time `json:"created_at"`
}

// Task returns the task of an agent.task.completed event. On another type
// the error wraps ErrWrongEventType.
func (e *Event) Task() (*Task, error) {
	return eventData[Task](e, "Task", EventTaskCompleted)
}

// Message returns the message of an agent.message.received or
// agent.message.sent event. On another type the error wraps
// ErrWrongEventType.
func (e *Event) Message() (*Message, error) {
	return eventData[Message](e, "Message", EventMessageReceived, EventMessageSent)
}

// StatusChange returns the data of an agent.status.changed event. On
// another type the error wraps ErrWrongEventType.
func (e *Event) StatusChange() (*StatusChange, error) {
	return eventData[StatusChange](e, "StatusChange", EventStatusChanged)
}

// SkillInstalled returns the data of an agent.skill.installed event. On
// another type the error wraps ErrWrongEventType.
func (e *Event) SkillInstalled() (*SkillInstalled, error) {
	return eventData[SkillInstalled](e, "SkillInstalled", EventSkillInstalled)
}

// Invoice returns the invoice of a billing.invoice.created event. On
// another type the error wraps ErrWrongEventType.
func (e *Event) Invoice() (*Invoice, error) {
	return eventData[Invoice](e, "Invoice", EventInvoiceCreated)
}

// eventData decodes e.Data into a T after checking that e is of one of the
// types the accessor named accessor serves.
func eventData[T any](e *Event, accessor string, types ...EventType) (*T, error) {
	if e == nil {
		return nil, fmt.Errorf("botonom: Event.%s: nil event", accessor)
	}
	if !slices.Contains(types, e.Type) {
		return nil, fmt.Errorf("%w: Event.%s needs %s, event %s is %q",
			ErrWrongEventType, accessor, eventTypeList(types), e.ID, e.Type)
	}
	if data := bytes.TrimSpace(e.Data); len(data) == 0 || string(data) == "null" {
		return nil, fmt.Errorf("%w: event %s (%s) has no data", ErrInvalidEvent, e.ID, e.Type)
	}
	v := new(T)
	if err := json.Unmarshal(e.Data, v); err != nil {
		return nil, fmt.Errorf("%w: event %s (%s): data: %w", ErrInvalidEvent, e.ID, e.Type, err)
	}
	return v, nil
}

func eventTypeList(types []EventType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = strconv.Quote(string(t))
	}
	return strings.Join(names, " or ")
}

// ConstructEvent verifies a webhook delivery exactly as VerifySignature
// does (same options, same errors) and only then decodes it. payload is the
// raw request body, header its X-Botonom-Signature. A signed payload that
// is not an event (not JSON, no id or no type) is an error wrapping
// ErrInvalidEvent; an event of an unknown type is not an error.
func ConstructEvent(payload []byte, header, secret string, opts ...VerifyOption) (*Event, error) {
	cfg, err := newVerifyConfig(secret, opts)
	if err != nil {
		return nil, fmt.Errorf("botonom: construct event: %w", err)
	}
	if err := cfg.verify(payload, header); err != nil {
		return nil, err
	}
	return decodeEvent(payload)
}

// decodeEvent decodes a verified payload into an Event.
func decodeEvent(payload []byte) (*Event, error) {
	ev := new(Event)
	if err := json.Unmarshal(payload, ev); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	switch {
	case ev.ID == "":
		return nil, fmt.Errorf("%w: no id", ErrInvalidEvent)
	case ev.Type == "":
		return nil, fmt.Errorf("%w: event %s has no type", ErrInvalidEvent, ev.ID)
	}
	return ev, nil
}

// DefaultMaxWebhookBodyBytes is the largest delivery body WebhookHandler
// reads: 1 MiB (WithHandlerMaxBodyBytes). A larger one is answered 413 unread.
const DefaultMaxWebhookBodyBytes = 1 << 20

// handlerConfig is what the HandlerOptions set.
type handlerConfig struct {
	verifyOpts []VerifyOption
	maxBody    int64
	logger     *slog.Logger
	dedup      dedupConfig
	order      orderConfig
	traces     []*DeliveryTrace
}

// HandlerOption configures WebhookHandler: the WebhookOptions it shares
// with VerifySignature (WithTolerance, WithClock, WithSecrets) and the
// handler's own (WithHandlerMaxBodyBytes, WithHandlerLogger,
// WithDeduplication, WithOrdering, WithDeliveryTrace), which
// VerifySignature does not accept. Since WebhookHandler returns no error,
// an option with a bad argument makes the handler answer every request 500
// (so the API keeps redelivering) and log why; see WebhookHandler.
type HandlerOption interface {
	applyHandler(*handlerConfig) error
}

// handlerOption is a HandlerOption of the handler alone.
type handlerOption func(*handlerConfig) error

func (f handlerOption) applyHandler(c *handlerConfig) error { return f(c) }

// WithHandlerMaxBodyBytes sets the largest body the handler reads (default
// DefaultMaxWebhookBodyBytes); a larger delivery is answered 413.
func WithHandlerMaxBodyBytes(n int64) HandlerOption {
	return handlerOption(func(c *handlerConfig) error {
		if n <= 0 {
			return fmt.Errorf("WithHandlerMaxBodyBytes: %d is not positive", n)
		}
		c.maxBody = n
		return nil
	})
}

// WithHandlerLogger logs every refused or failed delivery to l, with the
// reason (never the secret nor the signature). Without it the handler logs
// nothing, except a misconfiguration, which goes to slog.Default.
func WithHandlerLogger(l *slog.Logger) HandlerOption {
	return handlerOption(func(c *handlerConfig) error {
		if l == nil {
			return errors.New("WithHandlerLogger: nil *slog.Logger")
		}
		c.logger = l
		return nil
	})
}

// webhookHandler is the http.Handler WebhookHandler returns, holding its
// options as set (a nil logger logs nothing, a nil dedup.store means no
// de-duplication, a nil order.store no ordering guard).
type webhookHandler struct {
	handlerConfig
	verify *verifyConfig
	fn     func(context.Context, *Event) error
	guards GuardStore // the store both guards share, if it is a GuardStore
	err    error      // a configuration error: every request gets 500
}

// WebhookHandler returns an http.Handler that receives webhook deliveries:
// it reads the body (at most 1 MiB, see WithHandlerMaxBodyBytes), verifies
// its X-Botonom-Signature with secret (and WithSecrets; 5 minutes of
// tolerance, see WithTolerance), decodes the Event and calls fn with the
// request's context. It answers
//
//   - 405, with "Allow: POST", to any method but POST;
//   - 413 to a body over the cap, without reading past it;
//   - 401 to a missing, malformed, wrong or expired signature;
//   - 400 to a signed body that is not an event, or that cannot be read;
//   - 500 when fn returns an error, so that the API delivers again;
//   - 200 when fn returns nil.
//
// Answers carry a short text only; the reason goes to the logger of
// WithHandlerLogger. Delivery is at least once: without WithDeduplication,
// fn may see an event ID twice. With it, fn runs once per event ID, and a
// delivery may also be answered 409 (another delivery of the event is in
// flight) or 503 (the store failed); see WithDeduplication. With
// WithOrdering, a state event older than one processed is answered 200
// without fn; see WithOrdering.
// WithDeliveryTrace reports each answer, with its outcome, to hooks of
// your own (metrics, tracing).
//
// A configuration mistake (an empty secret, a nil fn, a bad option) does not
// panic: the handler answers every request 500, so no delivery is lost while
// it is fixed, and logs the mistake when it is built and on each request
// (to the WithHandlerLogger logger, or slog.Default when there is none).
func WebhookHandler(secret string, fn func(context.Context, *Event) error, opts ...HandlerOption) http.Handler {
	h := &webhookHandler{handlerConfig: handlerConfig{maxBody: DefaultMaxWebhookBodyBytes}, fn: fn}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applyHandler(&h.handlerConfig); err != nil && h.err == nil {
			h.err = err
		}
	}
	if h.err == nil {
		h.verify, h.err = newVerifyConfig(secret, h.verifyOpts)
	}
	if h.err == nil && fn == nil {
		h.err = errors.New("nil event function")
	}
	if h.err != nil {
		h.err = fmt.Errorf("botonom: WebhookHandler: %w", h.err)
		h.errLogger().Error("botonom: webhook handler is misconfigured; it will answer every delivery 500", "error", h.err)
	}
	h.guards = guardStore(h.dedup.store, h.order.store)
	return h
}

// errLogger is where a misconfiguration is logged: the handler's logger,
// or slog.Default.
func (h *webhookHandler) errLogger() *slog.Logger {
	if h.logger == nil {
		return slog.Default()
	}
	return h.logger
}

// ServeHTTP implements http.Handler.
func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(h.traces) != 0 {
		h.serveTraced(w, r)
		return
	}
	h.serve(w, r)
}

// serve answers a delivery. Every answer notes its outcome for a
// DeliveryTrace (noteOutcome; nothing without one).
func (h *webhookHandler) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.err != nil {
		noteOutcome(w, DeliveryRefused, h.err)
		h.errLogger().ErrorContext(ctx, "botonom: webhook handler is misconfigured; answering 500", "error", h.err)
		http.Error(w, "webhook handler misconfigured", http.StatusInternalServerError)
		return
	}
	if r.Method != http.MethodPost {
		noteOutcome(w, DeliveryRefused, errMethodNotAllowed)
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	if r.ContentLength > h.maxBody {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "body too large",
			fmt.Errorf("declared body length %d is over the %d-byte cap", r.ContentLength, h.maxBody))
		return
	}
	var payload []byte
	if r.Body != nil {
		var err error
		payload, err = io.ReadAll(http.MaxBytesReader(unwrapDelivery(w), r.Body, h.maxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				h.refuse(w, r, http.StatusRequestEntityTooLarge, "body too large",
					fmt.Errorf("body is over the %d-byte cap", h.maxBody))
				return
			}
			h.refuse(w, r, http.StatusBadRequest, "cannot read body", err)
			return
		}
	}

	if err := h.verify.verify(payload, r.Header.Get(SignatureHeader)); err != nil {
		h.refuse(w, r, http.StatusUnauthorized, "invalid signature", err)
		return
	}
	ev, err := decodeEvent(payload)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, "invalid event", err)
		return
	}
	noteEvent(w, ev)
	if h.dedup.store != nil {
		h.serveOnce(w, r, ev)
		return
	}
	h.finish(w, r, ev, h.runOrdered(ctx, ctx, ev))
}

// answer answers 200 when fn returned nil, else 500 so that the API
// delivers the event again.
func (h *webhookHandler) answer(w http.ResponseWriter, r *http.Request, ev *Event, fnErr error) {
	if fnErr != nil {
		noteOutcome(w, DeliveryFailed, fnErr)
		if h.logger != nil {
			h.logger.ErrorContext(r.Context(), "botonom: webhook event handling failed; answering 500 for redelivery",
				"event_id", ev.ID, "event_type", string(ev.Type), "error", fnErr)
		}
		http.Error(w, "event handling failed", http.StatusInternalServerError)
		return
	}
	noteOutcome(w, DeliveryProcessed, nil)
	w.WriteHeader(http.StatusOK)
}

// refuse answers status with a short text and logs the reason, which the
// caller never sees.
func (h *webhookHandler) refuse(w http.ResponseWriter, r *http.Request, status int, text string, reason error) {
	noteOutcome(w, DeliveryRefused, reason)
	if h.logger != nil {
		args := []any{"status", status, "remote_addr", r.RemoteAddr, "error", reason}
		if hint := SignatureFailureHint(reason); hint != "" {
			args = append(args, "hint", hint)
		}
		h.logger.WarnContext(r.Context(), "botonom: webhook delivery refused", args...)
	}
	http.Error(w, text, status)
}
