package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	botonom "github.com/botonom/botonom-go"
)

// eighths are the blocks of a bar's last, partial cell: one to seven
// eighths of a full block.
var eighths = []string{"▏", "▎", "▍", "▌", "▋", "▊", "▉"}

const (
	fullBlock = "█"
	emptyBar  = "·" // a period with no use: gaps stay visible
	maxBar    = 60  // the longest bar, however wide the terminal
	minBar    = 10  // the longest bar on the narrowest terminal
)

// writeChart writes usage as a bar chart: a line per period (its start,
// a bar of its total tokens scaled to the busiest period, the figure), then
// the totals. width 0 means defaultWidth.
func writeChart(w io.Writer, u *botonom.Usage, width int, colour bool) error {
	if width <= 0 {
		width = defaultWidth
	}
	labels := make([]string, len(u.Data))
	labelW, numW := len("Total"), 1
	var most int64
	for i, p := range u.Data {
		labels[i] = periodLabel(u.Granularity, p)
		labelW = max(labelW, utf8.RuneCountInString(labels[i]))
		numW = max(numW, len(thousands(p.TotalTokens)))
		most = max(most, p.TotalTokens)
	}
	barW := min(maxBar, max(minBar, width-labelW-numW-2*columnGap))

	var b strings.Builder
	fmt.Fprintf(&b, "Tokens per %s, %s → %s\n\n", u.Granularity, spanEnd(u.Granularity, u.From), spanEnd(u.Granularity, u.To))
	for i, p := range u.Data {
		bar := barOf(p.TotalTokens, most, barW)
		pad := strings.Repeat(" ", barW-utf8.RuneCountInString(bar))
		if colour && p.TotalTokens > 0 {
			bar = ansiCyan + bar + ansiReset
		}
		fmt.Fprintf(&b, "%-*s  %s%s  %*s\n", labelW, labels[i], bar, pad, numW, thousands(p.TotalTokens))
	}
	total := "Total"
	if colour {
		total = ansiBold + total + ansiReset
	}
	indent := strings.Repeat(" ", labelW+columnGap)
	totalW := len(thousands(u.Total.TotalTokens))
	for i, line := range []struct {
		n    int64
		what string
	}{{u.Total.TotalTokens, "tokens"}, {u.Total.InputTokens, "input"}, {u.Total.OutputTokens, "output"}, {u.Total.Requests, "requests"}} {
		lead := indent
		if i == 0 {
			lead = "\n" + total + indent[len("Total"):]
		}
		fmt.Fprintf(&b, "%s%*s %s\n", lead, totalW, thousands(line.n), line.what)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// barOf draws n against most in at most width cells, to an eighth of a
// cell; any use at all shows as at least an eighth, none as a dot.
func barOf(n, most int64, width int) string {
	if n <= 0 || most <= 0 {
		return emptyBar
	}
	units := (n*int64(width)*8 + most/2) / most
	units = max(units, 1)
	bar := strings.Repeat(fullBlock, int(units/8))
	if rem := units % 8; rem > 0 {
		bar += eighths[rem-1]
	}
	return bar
}

// spanEnd prints an end of the chart's span: a date, with the time for
// hours.
func spanEnd(g botonom.Granularity, t time.Time) string {
	if g == botonom.GranularityHour {
		return t.UTC().Format("2006-01-02 15:04")
	}
	return t.UTC().Format(time.DateOnly)
}

// periodLabel names a period as its granularity asks: an hour with its
// date, a day with its weekday, a month alone.
func periodLabel(g botonom.Granularity, p *botonom.UsagePeriod) string {
	t := p.PeriodStart.UTC()
	switch g {
	case botonom.GranularityHour:
		return t.Format("2006-01-02 15:04")
	case botonom.GranularityDay:
		return t.Format("Mon 2006-01-02")
	case botonom.GranularityMonth:
		return t.Format("2006-01")
	}
	return formatTime(t)
}
