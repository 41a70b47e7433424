package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/botonom/botonom-go/api"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	require.NoError(t, err)
	return doc
}

func TestSpec_LoadsAndValidates(t *testing.T) {
	doc := loadSpec(t)
	require.NoError(t, doc.Validate(context.Background()))
	assert.Equal(t, "3.0.3", doc.OpenAPI)
	require.Len(t, doc.Servers, 1)
	assert.Equal(t, "https://api.botonom.com/v1", doc.Servers[0].URL)
}

func TestSpec_HasEveryEndpoint(t *testing.T) {
	doc := loadSpec(t)
	for _, ep := range []struct{ method, path string }{
		{"GET", "/agents"},
		{"GET", "/agents/{id}"},
		{"POST", "/agents/{id}/message"},
		{"GET", "/agents/{id}/tasks"},
		{"PUT", "/agents/{id}/skills"},
		{"POST", "/webhooks"},
		{"GET", "/analytics/usage"},
	} {
		item := doc.Paths.Value(ep.path)
		require.NotNil(t, item, ep.path)
		op := item.GetOperation(ep.method)
		require.NotNil(t, op, "%s %s", ep.method, ep.path)
		for _, status := range []string{"400", "401", "403", "429", "500", "default"} {
			assert.NotNil(t, op.Responses.Value(status), "%s %s: response %s", ep.method, ep.path, status)
		}
		if ep.method == "POST" {
			var hasKey bool
			for _, p := range op.Parameters {
				hasKey = hasKey || (p.Value.In == "header" && p.Value.Name == "Idempotency-Key")
			}
			assert.True(t, hasKey, "%s %s: Idempotency-Key header", ep.method, ep.path)
		}
	}
	assert.Equal(t, 7, countOperations(doc))
}

func countOperations(doc *openapi3.T) int {
	n := 0
	for _, item := range doc.Paths.Map() {
		n += len(item.Operations())
	}
	return n
}

// The examples of DESIGN.md §2 fit the schemas they illustrate.
func TestSpec_DesignExamplesMatchSchemas(t *testing.T) {
	doc := loadSpec(t)
	examples := map[string]string{
		"Error":   `{"error": {"type": "invalid_request_error", "code": "missing_field", "message": "content is required", "param": "content"}}`,
		"Agent":   `{"id": "agt_abc123", "name": "Reservations", "description": "Books restaurant tables", "status": "online", "skills": ["calendar", "booking"], "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-02-18T14:30:00Z"}`,
		"Message": `{"id": "msg_789", "status": "delivered", "agent_id": "agt_abc123", "created_at": "2026-02-18T14:30:00Z", "channel": "api", "content": "Book a table", "metadata": {"customer_id": "cust_456"}}`,
		"Task":    `{"id": "tsk_001", "agent_id": "agt_abc123", "message_id": "msg_789", "status": "completed", "description": "Book a table for 4 at 7pm tomorrow", "result": "Booked at Luigi's, 19:00", "error": "", "tokens_used": 1834, "created_at": "2026-02-18T14:30:00Z", "completed_at": null}`,
		"Webhook": `{"id": "wh_123", "url": "https://yourapp.com/botonom/webhook", "events": ["agent.task.completed"], "created_at": "2026-02-18T14:30:00Z"}`,
		"Usage": `{"from": "2026-02-01T00:00:00Z", "to": "2026-02-18T00:00:00Z", "granularity": "day",
			"total": {"input_tokens": 120000, "output_tokens": 48000, "total_tokens": 168000, "requests": 950},
			"data": [{"period_start": "2026-02-01T00:00:00Z", "period_end": "2026-02-02T00:00:00Z", "input_tokens": 7000, "output_tokens": 2600, "total_tokens": 9600, "requests": 51}]}`,
		"SendMessageRequest":     `{"content": "Book a table for 4 at 7pm tomorrow", "metadata": {"customer_id": "cust_456", "priority": "normal"}}`,
		"UpdateSkillsRequest":    `{"install": ["calendar"], "remove": ["weather"]}`,
		"RegisterWebhookRequest": `{"url": "https://yourapp.com/botonom/webhook", "events": ["agent.task.completed"], "secret": "whsec_x"}`,
		"TaskCompletedEvent":     `{"id":"evt_1","type":"agent.task.completed","created_at":"2024-02-18T14:30:00Z","data":{"id":"tsk_001","agent_id":"agt_abc123","status":"completed","created_at":"2024-02-18T14:30:00Z","completed_at":"2024-02-18T14:30:05Z"}}`,
		"StatusChangedEvent":     `{"id":"evt_2","type":"agent.status.changed","created_at":"2024-02-18T14:30:00Z","data":{"agent_id":"agt_abc123","status":"online","previous_status":"offline"}}`,
		"SkillInstalledEvent":    `{"id":"evt_3","type":"agent.skill.installed","created_at":"2024-02-18T14:30:00Z","data":{"agent_id":"agt_abc123","skill":"calendar"}}`,
		"InvoiceCreatedEvent":    `{"id":"evt_4","type":"billing.invoice.created","created_at":"2024-02-18T14:30:00Z","data":{"id":"inv_1","amount_due":4900,"currency":"usd","period_start":"2024-01-01T00:00:00Z","period_end":"2024-02-01T00:00:00Z","created_at":"2024-02-01T00:00:00Z"}}`,
		"Event":                  `{"id":"evt_5","type":"agent.brand.new","created_at":"2024-02-18T14:30:00Z","data":{"anything":1}}`,
	}
	for name, example := range examples {
		t.Run(name, func(t *testing.T) {
			ref := doc.Components.Schemas[name]
			require.NotNil(t, ref, "schema %s", name)
			var v any
			require.NoError(t, json.Unmarshal([]byte(example), &v))
			assert.NoError(t, ref.Value.VisitJSON(v))
		})
	}
}

// Shapes the API rejects are rejected by the schemas too.
func TestSpec_SchemasRejectBadShapes(t *testing.T) {
	doc := loadSpec(t)
	bad := []struct{ schema, body string }{
		{"SendMessageRequest", `{}`},
		{"SendMessageRequest", `{"content": ""}`},
		{"SendMessageRequest", `{"content": "   "}`},
		{"SendMessageRequest", `{"content": "hi", "metadata": {"n": 1}}`},
		{"SendMessageRequest", `{"content": "hi", "idempotency_key": "k"}`},
		{"UpdateSkillsRequest", `{}`},
		{"UpdateSkillsRequest", `{"install": [], "remove": []}`},
		{"UpdateSkillsRequest", `{"install": [""]}`},
		{"RegisterWebhookRequest", `{"url": "https://x.test/h", "events": [], "secret": "s"}`},
		{"RegisterWebhookRequest", `{"url": "https://x.test/h", "events": ["agent"], "secret": "s"}`},
		{"RegisterWebhookRequest", `{"url": "https://x.test/h", "events": ["Agent.Task.Completed"], "secret": "s"}`},
		{"RegisterWebhookRequest", `{"url": "https://x.test/h", "events": ["agent..completed"], "secret": "s"}`},
		{"RegisterWebhookRequest", `{"url": "https://x.test/h", "events": ["agent.task.completed "], "secret": "s"}`},
		{"RegisterWebhookRequest", `{"url": "ftp://x.test/h", "events": ["agent.task.completed"], "secret": "s"}`},
		{"RegisterWebhookRequest", `{"url": "https://x.test/h", "events": ["agent.task.completed"]}`},
		{"RegisterWebhookRequest", `{"url": "https://x.test/a b", "events": ["agent.task.completed"], "secret": "s"}`},
		{"RegisterWebhookRequest", `{"url": "https://:80/h", "events": ["agent.task.completed"], "secret": "s"}`},
		{"Webhook", `{"id": "wh_1", "url": "https://x.test/h", "events": ["agent.task.completed"], "created_at": "2026-02-18T14:30:00Z", "secret": "whsec_leak"}`},
		{"Task", `{"id": "tsk_1", "agent_id": "agt_1", "status": "done", "created_at": "2026-02-18T14:30:00Z", "completed_at": null}`},
		{"Error", `{"error": {"type": "oops", "message": "m"}}`},
	}
	for _, tc := range bad {
		var v any
		require.NoError(t, json.Unmarshal([]byte(tc.body), &v))
		assert.Error(t, doc.Components.Schemas[tc.schema].Value.VisitJSON(v), "%s %s", tc.schema, tc.body)
	}
}

// A static mock (Prism's `prism mock`, which answers with the examples)
// answers within the spec: every response header has an example that fits
// it (rate limits not spent), every pattern-constrained property has an
// example that fits, and a list example is the last page, so a client that
// follows cursors stops.
func TestSpec_ExamplesMakeAStaticMockAnswerWithinTheSpec(t *testing.T) {
	doc := loadSpec(t)
	for name, h := range doc.Components.Headers {
		require.NotNil(t, h.Value.Example, "header %s: no example", name)
		assert.NoError(t, h.Value.Schema.Value.VisitJSON(h.Value.Example), "header %s: example %v", name, h.Value.Example)
	}
	for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining"} {
		assert.Positive(t, doc.Components.Headers[name].Value.Example, name)
	}

	var walk func(path string, s *openapi3.Schema)
	seen := map[*openapi3.Schema]bool{}
	walk = func(path string, s *openapi3.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if s.Pattern != "" {
			if assert.NotNil(t, s.Example, "%s has a pattern and no example", path) {
				assert.NoError(t, s.VisitJSON(s.Example), "%s: example %v", path, s.Example)
			}
		}
		for p, ref := range s.Properties {
			walk(path+"."+p, ref.Value)
		}
		if s.Items != nil {
			walk(path+"[]", s.Items.Value)
		}
		for _, all := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
			for _, ref := range all {
				walk(path, ref.Value)
			}
		}
	}
	for name, ref := range doc.Components.Schemas {
		walk(name, ref.Value)
	}

	for _, name := range []string{"AgentList", "TaskList"} {
		props := doc.Components.Schemas[name].Value.Properties
		assert.Equal(t, false, props["has_more"].Value.Example, "%s.has_more", name)
		assert.Equal(t, "", props["next_cursor"].Value.Example, "%s.next_cursor", name)
	}
}

// What `redocly lint` (recommended rules, run by .ci/run) asks for and is
// easy to lose: a licence URL and a 4XX answer for the webhook callback.
func TestSpec_LicenceURLAndCallback4XX(t *testing.T) {
	doc := loadSpec(t)
	require.NotNil(t, doc.Info.License)
	assert.NotEmpty(t, doc.Info.License.URL)
	cb := doc.Paths.Value("/webhooks").Post.Callbacks["event"].Value
	require.NotNil(t, cb)
	for _, item := range cb.Map() {
		assert.NotNil(t, item.Post.Responses.Value("4XX"), "the delivery's 4XX answer")
	}
}

// An event name the API does not know yet is a well-formed request, as the
// SDK sends it: the API (and the fake) answers 400 invalid_value for it,
// which is the server's answer, not a broken contract.
func TestSpec_RegisterWebhookTakesAnyWellFormedEventName(t *testing.T) {
	doc := loadSpec(t)
	for _, name := range []string{"agent.memory.updated", "billing.invoice_v2.created", "a.b"} {
		var v any
		require.NoError(t, json.Unmarshal([]byte(`{"url": "https://x.test/h", "events": ["`+name+`"], "secret": "s"}`), &v))
		assert.NoError(t, doc.Components.Schemas["RegisterWebhookRequest"].Value.VisitJSON(v), name)
	}
}

// A string that is only white space is blank for the SDK and the fake
// (strings.TrimSpace, unicode.IsSpace); the spec's patterns say the same,
// for every character of the Basic Multilingual Plane, and read alike in
// RE2 (kin-openapi) and ECMA-262 (Prism, Redocly): they list the white
// space characters themselves (\s is ASCII-only in RE2, and ECMA's adds
// U+FEFF and leaves out U+0085).
func TestSpec_BlankMeansWhatTheSDKSays(t *testing.T) {
	doc := loadSpec(t)
	schemas := doc.Components.Schemas
	notBlank := map[string]*openapi3.Schema{
		"content": schemas["SendMessageRequest"].Value.Properties["content"].Value,
		"skill":   schemas["SkillName"].Value,
		"secret":  schemas["RegisterWebhookRequest"].Value.Properties["secret"].Value,
	}
	url := schemas["RegisterWebhookRequest"].Value.Properties["url"].Value
	for r := rune(0); r <= 0xFFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates: not characters
		}
		space := unicode.IsSpace(r)
		for name, s := range notBlank {
			if err := s.VisitJSON(string(r) + string(r)); (err != nil) != space {
				t.Errorf("%s %U%U: spec error %v, but unicode.IsSpace is %t", name, r, r, err, space)
			}
		}
		if space {
			assert.Error(t, url.VisitJSON("https://x.test/a"+string(r)+"b"), "url with %U", r)
			assert.Error(t, url.VisitJSON("https://x"+string(r)+"y.test/"), "url host with %U", r)
		}
	}
	assert.NoError(t, url.VisitJSON("https://x.test/a\ufeffb"), "U+FEFF is no space for the SDK")
	for _, s := range []string{" \u00a0x", "\u3000\v.", "\ufeff"} {
		for name, schema := range notBlank {
			assert.NoError(t, schema.VisitJSON(s), "%s %q", name, s)
		}
	}
}
