package botonom

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnalyticsUsage(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "analytics/usage", 200, `{"from": "2026-02-01T00:00:00Z", "to": "2026-02-18T00:00:00Z", "granularity": "day",
 "total": {"input_tokens": 120000, "output_tokens": 48000, "total_tokens": 168000, "requests": 950},
 "data": [{"period_start": "2026-02-01T00:00:00Z", "period_end": "2026-02-02T00:00:00Z",
           "input_tokens": 7000, "output_tokens": 2600, "total_tokens": 9600, "requests": 51}]}`, func(r *http.Request) {
		testMethod(t, r, "GET")
		testStandardHeaders(t, r)
		testNoBody(t, r)
		assert.Equal(t, url.Values{
			"from": {"2026-02-01T00:00:00Z"}, "to": {"2026-02-18T00:00:00Z"},
			"agent_id": {"agt_abc123"}, "granularity": {"day"},
		}, r.URL.Query())
	})
	usage, _, err := c.Analytics.Usage(context.Background(), &UsageOptions{
		From: mustTime("2026-02-01T00:00:00Z"), To: mustTime("2026-02-18T00:00:00Z"),
		AgentID: "agt_abc123", Granularity: GranularityDay,
	})
	require.NoError(t, err)
	assert.Equal(t, &Usage{
		From: mustTime("2026-02-01T00:00:00Z"), To: mustTime("2026-02-18T00:00:00Z"), Granularity: GranularityDay,
		Total: UsageCounts{InputTokens: 120000, OutputTokens: 48000, TotalTokens: 168000, Requests: 950},
		Data: []*UsagePeriod{{
			PeriodStart: mustTime("2026-02-01T00:00:00Z"), PeriodEnd: mustTime("2026-02-02T00:00:00Z"),
			UsageCounts: UsageCounts{InputTokens: 7000, OutputTokens: 2600, TotalTokens: 9600, Requests: 51},
		}},
	}, usage)
}

func TestAnalyticsUsage_NilOptions(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "analytics/usage", 200, `{"granularity":"day"}`, func(r *http.Request) {
		assert.Empty(t, r.URL.RawQuery)
	})
	_, _, err := c.Analytics.Usage(context.Background(), nil)
	require.NoError(t, err)
}

func TestAnalyticsUsage_BadInputSendsNothing(t *testing.T) {
	c, mt := setup(t)
	_, _, err := c.Analytics.Usage(context.Background(), &UsageOptions{From: mustTime("2026-02-02T00:00:00Z"), To: mustTime("2026-02-01T00:00:00Z")})
	assert.ErrorContains(t, err, "to is before from")
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestAnalyticsUsage_GranularityIsSentAsGiven(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "analytics/usage", 200, `{"granularity":"week"}`, func(r *http.Request) {
		assert.Equal(t, "week", r.URL.Query().Get("granularity"))
	})
	usage, _, err := c.Analytics.Usage(context.Background(), &UsageOptions{Granularity: "week"})
	require.NoError(t, err, "a length the API may add later")
	assert.Equal(t, Granularity("week"), usage.Granularity)
}
