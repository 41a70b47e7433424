package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// The example prints the exporters' JSON (spans and metrics), then a tree
// of one call span with three attempts and the two waits between them, and
// the traceparent of each attempt: the call's trace, the attempt's span.
func TestRun_ShowsTheCallRetriedThroughTwo503s(t *testing.T) {
	var jsonOut, out bytes.Buffer
	if err := run(context.Background(), &jsonOut, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{`"Name": "botonom agents.send_message"`, `"Name": "http.client.request.duration"`, `"Name": "botonom.client.retries"`} {
		if !strings.Contains(jsonOut.String(), want) {
			t.Errorf("the exporters' output lacks %s", want)
		}
	}
	tree := out.String()
	t.Log("\n" + tree)
	if n := strings.Count(tree, "botonom agents.send_message  [internal"); n != 1 {
		t.Errorf("%d call spans in the tree, want 1", n)
	}
	if n := strings.Count(tree, "event botonom.wait"); n != 2 {
		t.Errorf("%d wait events in the tree, want 2", n)
	}
	trace := regexp.MustCompile(`(?m)^trace ([0-9a-f]{32})$`).FindStringSubmatch(tree)
	if trace == nil {
		t.Fatal("no trace ID in the tree")
	}
	attempts := regexp.MustCompile(`─ POST /agents/\{id\}/message  \[client, span ([0-9a-f]{16}),.*http.response.status_code=(\d+)`).FindAllStringSubmatch(tree, -1)
	carried := regexp.MustCompile(`retry (\d) → (\d+)  00-([0-9a-f]{32})-([0-9a-f]{16})-01`).FindAllStringSubmatch(tree, -1)
	if len(attempts) != 3 || len(carried) != 3 {
		t.Fatalf("%d attempt spans and %d traceparents, want 3 and 3", len(attempts), len(carried))
	}
	for i, status := range []string{"503", "503", "201"} {
		if attempts[i][2] != status || carried[i][2] != status {
			t.Errorf("attempt %d: status %s in the tree, %s at the API; want %s", i, attempts[i][2], carried[i][2], status)
		}
		if carried[i][3] != trace[1] || carried[i][4] != attempts[i][1] {
			t.Errorf("attempt %d carried trace %s span %s, want %s and its span %s", i, carried[i][3], carried[i][4], trace[1], attempts[i][1])
		}
	}
}
