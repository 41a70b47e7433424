package botonom

import (
	"context"
	"net/http"
	"time"
)

// AnalyticsService reads token usage of the workspace.
type AnalyticsService service

// Granularity is the length of the periods Usage is broken into. Any
// value is sent as given (the API may add lengths); it refuses one it does
// not know with a 400 naming granularity.
type Granularity string

// Granularities.
const (
	GranularityHour  Granularity = "hour"
	GranularityDay   Granularity = "day" // the default
	GranularityMonth Granularity = "month"
)

// UsageOptions selects the usage to report. Zero fields are left out, and
// the API chooses. Times are sent as RFC 3339 in UTC, with the fraction of
// a second they have.
type UsageOptions struct {
	From        time.Time   `url:"from,omitempty"`
	To          time.Time   `url:"to,omitempty"`
	AgentID     string      `url:"agent_id,omitempty"` // only this agent
	Granularity Granularity `url:"granularity,omitempty"`
}

// UsageCounts are token and request counts over a span of time.
type UsageCounts struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
	Requests     int64 `json:"requests"`
}

// UsagePeriod is the usage of one period.
type UsagePeriod struct {
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	UsageCounts
}

// Usage is the token usage between From and To, in total and per period.
type Usage struct {
	From        time.Time      `json:"from"`
	To          time.Time      `json:"to"`
	Granularity Granularity    `json:"granularity"`
	Total       UsageCounts    `json:"total"`
	Data        []*UsagePeriod `json:"data"`
}

// validate checks what the SDK can know: the window's order. The
// granularity is sent as given (DESIGN: enums the API may grow), so one the
// API adds later works; the API answers 400 naming granularity for one it
// does not know.
func (o *UsageOptions) validate() error {
	if !o.From.IsZero() && !o.To.IsZero() && o.To.Before(o.From) {
		return invalidArgf("usage: to is before from")
	}
	return nil
}

// opUsage is Usage, as a CallTrace and middleware see it.
var opUsage = &Call{Operation: "analytics.usage", Method: http.MethodGet, Route: "/analytics/usage"}

// Usage returns token usage metrics (opts may be nil for the API's
// defaults).
//
// API: GET /analytics/usage
func (s *AnalyticsService) Usage(ctx context.Context, opts *UsageOptions, callOpts ...Option) (*Usage, *Response, error) {
	if opts != nil {
		if err := opts.validate(); err != nil {
			return nil, nil, err
		}
	}
	path, err := addQuery("analytics/usage", opts)
	if err != nil {
		return nil, nil, err
	}
	return call[Usage](ctx, s.client, opUsage, path, nil, callOpts)
}
