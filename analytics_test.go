package botonom

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

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

func TestQueryTimes_KeepTheirFraction(t *testing.T) {
	at := time.Date(2026, 2, 18, 14, 30, 55, 7976889, time.UTC)
	paris := time.FixedZone("Paris", 3600)
	c, mt := setup(t)
	var got []url.Values
	record := func(r *http.Request) { got = append(got, r.URL.Query()) }
	handle(mt, "GET", "agents/agt_1/tasks", 200, `{"data":[],"has_more":false}`, record)
	handle(mt, "GET", "analytics/usage", 200, `{"granularity":"day"}`, record)

	_, _, err := c.Agents.ListTasks(context.Background(), "agt_1", &ListTasksOptions{
		CreatedAfter: at, CreatedBefore: at.Add(500 * time.Millisecond).In(paris),
	})
	require.NoError(t, err)
	_, _, err = c.Analytics.Usage(context.Background(), &UsageOptions{From: at.In(paris), To: at.Add(time.Second)})
	require.NoError(t, err)
	assert.Equal(t, []url.Values{
		{"created_after": {"2026-02-18T14:30:55.007976889Z"}, "created_before": {"2026-02-18T14:30:55.507976889Z"}},
		{"from": {"2026-02-18T14:30:55.007976889Z"}, "to": {"2026-02-18T14:30:56.007976889Z"}},
	}, got, "RFC 3339 in UTC, the fraction kept")
}
