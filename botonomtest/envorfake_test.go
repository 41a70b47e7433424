package botonomtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func TestClientFromEnvOrFake_WithoutTokenStartsAFake(t *testing.T) {
	t.Setenv("BOTONOM_API_TOKEN", "")
	client, fake, err := botonomtest.ClientFromEnvOrFake([]botonomtest.Option{botonomtest.WithRateLimit(7, 60e9)}, botonom.WithMaxRetries(0))
	require.NoError(t, err)
	require.NotNil(t, fake)
	defer fake.Close()
	assert.Equal(t, fake.URL(), client.BaseURL())
	_, resp, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID)
	require.NoError(t, err)
	assert.Equal(t, 7, resp.Rate.Limit, "the fake got the options")
}

func TestClientFromEnvOrFake_WithTokenUsesTheEnvironment(t *testing.T) {
	t.Setenv("BOTONOM_API_TOKEN", "btm_sk_from_env")
	t.Setenv("BOTONOM_BASE_URL", "http://127.0.0.1:9/v1/")
	client, fake, err := botonomtest.ClientFromEnvOrFake(nil)
	require.NoError(t, err)
	assert.Nil(t, fake)
	assert.Equal(t, "http://127.0.0.1:9/v1/", client.BaseURL())
}
