package botonom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckResponse_MapsEveryStatus(t *testing.T) {
	statuses := []struct {
		code     int
		typ      string
		sentinel error
	}{
		{400, "invalid_request_error", ErrBadRequest},
		{401, "authentication_error", ErrUnauthorized},
		{403, "permission_error", ErrForbidden},
		{404, "not_found_error", ErrNotFound},
		{429, "rate_limit_error", ErrRateLimited},
		{500, "api_error", ErrServer},
		{502, "api_error", ErrServer},
	}
	sentinels := []error{ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited, ErrServer}
	bodies := map[string]func(typ string) string{
		"json": func(typ string) string {
			return fmt.Sprintf(`{"error":{"type":%q,"code":"some_code","message":"it went wrong","param":"content"}}`, typ)
		},
		"empty":     func(string) string { return "" },
		"html":      func(string) string { return "<html><body><h1>502 Bad Gateway</h1></body></html>" },
		"truncated": func(typ string) string { return fmt.Sprintf(`{"error":{"type":%q,"mess`, typ) },
	}
	for _, st := range statuses {
		for bodyName, body := range bodies {
			t.Run(fmt.Sprintf("%d/%s", st.code, bodyName), func(t *testing.T) {
				c, mt := setup(t, WithMaxRetries(0))
				handle(mt, "GET", "agents/agt_1", st.code, body(st.typ), nil)
				agent, resp, err := c.Agents.Get(context.Background(), "agt_1")
				require.Error(t, err)
				assert.Nil(t, agent)
				require.NotNil(t, resp)
				assert.Equal(t, st.code, resp.StatusCode)

				var apiErr *APIError
				require.True(t, errors.As(err, &apiErr), "errors.As *APIError")
				assert.Equal(t, st.code, apiErr.StatusCode)
				assert.Equal(t, "req_test_1", apiErr.RequestID)
				assert.Equal(t, 1, apiErr.Attempts)
				for _, s := range sentinels {
					assert.Equal(t, s == st.sentinel, errors.Is(err, s), "errors.Is(err, %v)", s)
				}
				if bodyName == "json" {
					assert.Equal(t, st.typ, apiErr.Type)
					assert.Equal(t, "some_code", apiErr.Code)
					assert.Equal(t, "it went wrong", apiErr.Message)
					assert.Equal(t, "content", apiErr.Param)
					assert.Equal(t, fmt.Sprintf("botonom: %d %s/some_code: it went wrong (param content, request req_test_1)", st.code, st.typ), err.Error())
				} else {
					assert.Empty(t, apiErr.Message)
					assert.Contains(t, err.Error(), fmt.Sprint(st.code))
					assert.NotContains(t, err.Error(), "<html>", "a proxy's page is not the message")
				}

				var rle *RateLimitError
				assert.Equal(t, st.code == 429, errors.As(err, &rle), "errors.As *RateLimitError")
			})
		}
	}
}

func TestCheckResponse_RateLimitErrorCarriesRateAndRetryAfter(t *testing.T) {
	c, mt := setup(t, WithMaxRetries(0))
	mt.RegisterResponder("GET", testBaseURL+"agents", func(r *http.Request) (*http.Response, error) {
		resp := &http.Response{StatusCode: 429, Header: http.Header{}, Body: http.NoBody}
		resp.Header.Set("X-RateLimit-Limit", "100")
		resp.Header.Set("X-RateLimit-Remaining", "0")
		resp.Header.Set("X-RateLimit-Reset", "1708272000")
		resp.Header.Set("Retry-After", "30")
		return resp, nil
	})
	_, _, err := c.Agents.List(context.Background(), nil)
	var rle *RateLimitError
	require.ErrorAs(t, err, &rle)
	assert.Equal(t, 30*time.Second, rle.RetryAfter)
	assert.Equal(t, Rate{Limit: 100, Remaining: 0, Reset: time.Unix(1708272000, 0).UTC()}, rle.Rate)
	assert.Equal(t, "rate_limit_error", rle.Type)
	assert.Contains(t, rle.Error(), "retry after 30s")
	assert.ErrorIs(t, err, ErrRateLimited)
}

func TestRateLimitError_SaysRetryAfterOnce(t *testing.T) {
	for _, tc := range []struct {
		message string
		want    string
	}{
		{"slow down", "botonom: 429 rate_limit_error: slow down (request req_1); retry after 30s"},
		{"rate limit of 100 requests per 1m0s exceeded; retry after 1 s",
			"botonom: 429 rate_limit_error: rate limit of 100 requests per 1m0s exceeded; retry after 1 s (request req_1)"},
		{"Too many requests. Retry after 30 seconds.",
			"botonom: 429 rate_limit_error: Too many requests. Retry after 30 seconds. (request req_1)"},
	} {
		err := &RateLimitError{
			APIError:   &APIError{StatusCode: 429, Type: "rate_limit_error", Message: tc.message, RequestID: "req_1"},
			RetryAfter: 30 * time.Second,
		}
		assert.Equal(t, tc.want, err.Error())
	}
}

func TestCheckResponse_ReadsAtMostOneMiB(t *testing.T) {
	counter := &countingBody{r: strings.NewReader(`{"error":{"type":"api_error","message":"` + strings.Repeat("x", 3<<20) + `"}}`)}
	resp := &http.Response{StatusCode: 500, Header: http.Header{"X-Request-Id": {"req_big"}}, Body: counter}
	err := checkResponse(resp, time.Now)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 500, apiErr.StatusCode)
	assert.Equal(t, "req_big", apiErr.RequestID)
	assert.Empty(t, apiErr.Message, "a cut-off body gives no details")
	assert.LessOrEqual(t, counter.n, int64(maxErrorBodySize+1))
}

func TestCheckResponse_SuccessIsNil(t *testing.T) {
	for _, code := range []int{200, 201, 204, 299} {
		assert.NoError(t, checkResponse(&http.Response{StatusCode: code, Header: http.Header{}}, time.Now))
	}
}

func TestAPIError_TextWithoutBody(t *testing.T) {
	err := &APIError{StatusCode: 503, RequestID: "req_9", Attempts: 4}
	assert.Equal(t, "botonom: 503 service unavailable (request req_9, after 4 attempts)", err.Error())
}

// countingBody is a request or response body that counts the bytes read
// through it.
type countingBody struct {
	r io.Reader
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
func (c *countingBody) Close() error { return nil }

func TestCheckResponse_KeepsWhatDecodesOfAnErrorBody(t *testing.T) {
	for _, tc := range []struct {
		body string
		want APIError
	}{
		{`{"error":{"code":503,"message":"upstream down"}}`,
			APIError{Message: "upstream down"}},
		{`{"error":{"type":{"name":"api_error"},"code":"overloaded","message":"try later","param":7}}`,
			APIError{Code: "overloaded", Message: "try later"}},
		{`{"error":{"type":"api_error","code":null,"message":["a","b"],"param":"content","extra":{}}}`,
			APIError{Type: "api_error", Param: "content"}},
		{`{"error":"upstream down"}`, APIError{}},
		{`{"error":{"message":"cut`, APIError{}},
	} {
		resp := &http.Response{StatusCode: 503, Header: http.Header{"X-Request-Id": {"req_1"}}, Body: io.NopCloser(strings.NewReader(tc.body))}
		var apiErr *APIError
		require.ErrorAs(t, checkResponse(resp, time.Now), &apiErr, tc.body)
		tc.want.StatusCode, tc.want.RequestID = 503, "req_1"
		assert.Equal(t, &tc.want, apiErr, tc.body)
	}
	resp := &http.Response{StatusCode: 503, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"error":{"code":503,"message":"upstream down"}}`))}
	assert.EqualError(t, checkResponse(resp, time.Now), "botonom: 503 service unavailable: upstream down")
}

func TestAPIError_ServerTextIsCappedAndQuoted(t *testing.T) {
	huge := strings.Repeat("é", 1<<20) // 2 MiB
	err := &APIError{StatusCode: 500, Type: "api_error", Message: huge, RequestID: "req_1"}
	text := err.Error()
	assert.Less(t, len(text), 1100, "1 KiB of the message, not 2 MiB")
	assert.Equal(t, "botonom: 500 api_error: "+strings.Repeat("é", 512)+"… (request req_1)", text)

	err = &APIError{
		StatusCode: 502, Type: "api\nerror", Code: "bad\x1b[2J",
		Message: "line one\nline two\r\x1b[31mred\x1b[0m\u202egnp.exe\t\xff",
		Param:   "p\x00", RequestID: "req\n2",
	}
	assert.Equal(t, `botonom: 502 api\nerror/bad\x1b[2J: line one\nline two\r\x1b[31mred\x1b[0m\u202egnp.exe\t`+"\ufffd"+` (param p\x00, request req\n2)`, err.Error())
	assert.NotContains(t, err.Error(), "\x1b")
	assert.NotContains(t, err.Error(), "\n")
}

func TestAPIError_UnknownStatusWithoutTypeHasNoDoubleSpace(t *testing.T) {
	for _, tc := range []struct {
		err  APIError
		want string
	}{
		{APIError{StatusCode: 599, RequestID: "req_1"}, "botonom: 599 (request req_1)"},
		{APIError{StatusCode: 599, Message: "odd"}, "botonom: 599: odd"},
		{APIError{StatusCode: 599}, "botonom: 599"},
		{APIError{Message: "odd"}, "botonom: odd"},
		{APIError{StatusCode: 503, Attempts: 4}, "botonom: 503 service unavailable (after 4 attempts)"},
	} {
		assert.Equal(t, tc.want, tc.err.Error())
	}
}

// A decode error names the request only when the answer carried an ID, and
// writes it as server text (capped, control characters escaped).
func TestDecodeError_NamesTheRequestOnlyWhenThereIsOne(t *testing.T) {
	inner := errors.New("unexpected EOF")
	for _, tc := range []struct{ id, want string }{
		{"", "decode response: unexpected EOF"},
		{"req_1", "decode response (request req_1): unexpected EOF"},
		{"req_\x1b[31m", `decode response (request req_\x1b[31m): unexpected EOF`},
	} {
		assert.Equal(t, tc.want, (&decodeError{requestID: tc.id, err: inner}).Error())
	}
}
