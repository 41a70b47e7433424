package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// ANSI sequences of the few colours the command uses, only when colour()
// allows them.
const (
	ansiBold  = "\x1b[1m"
	ansiCyan  = "\x1b[36m"
	ansiReset = "\x1b[0m"
)

// table is a header and rows for people: columns aligned by
// text/tabwriter, two spaces apart.
type table struct {
	header []string
	rows   [][]string
	// shrink lists the columns that give up width, in order, when the
	// table is wider than the terminal; their cells are cut with "…".
	shrink []int
}

// columnGap is the space between columns.
const columnGap = 2

// minShrunk is the narrowest a shrinking column gets.
const minShrunk = 8

// write writes t fitted to width (0: no limit), the header in bold when
// colour is on.
func (t table) write(w io.Writer, width int, colour bool) error {
	t.fit(width)
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, columnGap, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, row := range t.rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	out := b.String()
	if colour {
		header, rest, _ := strings.Cut(out, "\n")
		out = ansiBold + header + ansiReset + "\n" + rest
	}
	_, err := io.WriteString(w, out)
	return err
}

// fit cuts the cells of the shrinking columns so that every line of the
// table is at most width columns wide.
func (t *table) fit(width int) {
	if width <= 0 {
		return
	}
	widths := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	total := (len(widths) - 1) * columnGap
	for _, w := range widths {
		total += w
	}
	for _, col := range t.shrink {
		over := total - width
		if over <= 0 {
			return
		}
		floor := max(minShrunk, utf8.RuneCountInString(t.header[col]))
		cut := min(over, widths[col]-floor)
		if cut <= 0 {
			continue
		}
		widths[col] -= cut
		total -= cut
		for _, row := range t.rows {
			row[col] = truncate(row[col], widths[col])
		}
	}
}

// truncate cuts s to n runes, the last being "…" when it cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// field is one line of a record printed as aligned fields.
type field struct{ name, value string }

// writeFields writes name and value pairs, the values aligned.
func writeFields(w io.Writer, fields []field, colour bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, columnGap, ' ', 0)
	for _, f := range fields {
		name := f.name
		if colour {
			// Every name carries the same escapes, so tabwriter's count
			// of their width is off by the same for all: still aligned.
			name = ansiBold + name + ansiReset
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, f.value)
	}
	return tw.Flush()
}

// thousands formats n with a comma every three digits: 1,250.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
