package main

import (
	"context"
	"fmt"
	"io"
	"time"

	botonom "github.com/botonom/botonom-go"
)

// progress is the running count of a long fetch, on stderr, rewritten in
// place ("fetched 1,250 tasks…"); only when stderr is a terminal, so logs
// and scripts see nothing of it.
type progress struct {
	w    io.Writer
	on   bool
	noun string
	n    int
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

func (c *cli) newProgress(noun string) *progress {
	on, _ := c.terminal(c.stderr)
	return &progress{w: c.stderr, on: on, noun: noun}
}

// add counts n more items and shows the count.
func (p *progress) add(n int) {
	p.n += n
	if p.on {
		fmt.Fprintf(p.w, "%sfetched %s %s…", clearLine, thousands(int64(p.n)), p.noun)
	}
}

// done erases the count, before the result is printed.
func (p *progress) done() {
	if p.on && p.n > 0 {
		fmt.Fprint(p.w, clearLine)
	}
}

// fetchAll follows the cursors of a list from the first page to the last,
// counting on p, and returns every item.
func fetchAll[T any](p *progress, page func(cursor string) ([]T, *botonom.Response, error)) ([]T, error) {
	defer p.done()
	all := []T{}
	cursor := ""
	for {
		items, resp, err := page(cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		p.add(len(items))
		if resp == nil || resp.NextCursor == "" {
			return all, nil
		}
		cursor = resp.NextCursor
	}
}

// rateLimitNotes is the CallTrace of the command's clients: a wait for the
// rate limit says on stderr how long it lasts, so that a pause is not
// mistaken for a hang.
func (c *cli) rateLimitNotes() *botonom.CallTrace {
	onTerminal, _ := c.terminal(c.stderr)
	return &botonom.CallTrace{Wait: func(_ context.Context, _ botonom.Call, w botonom.Wait) {
		var why string
		switch w.Reason {
		case botonom.WaitRateLimitHold, botonom.WaitRateLimitReset:
			why = "the rate limit is spent"
		case botonom.WaitRetryAfter:
			why = "the API asked to retry later (Retry-After)"
		default:
			return
		}
		if onTerminal {
			fmt.Fprint(c.stderr, clearLine)
		}
		fmt.Fprintf(c.stderr, "botonom: %s: waiting %s…\n", why, roundWait(w.Duration))
	}}
}

// roundWait rounds a wait for people: whole seconds from a second up.
func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
