package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// terminalFunc says whether w is a terminal and, if so, its width in
// columns. The command asks it of stdout (tables or JSON, colour, width)
// and of stderr (progress); tests inject their own.
type terminalFunc func(w io.Writer) (isTerminal bool, width int)

// defaultWidth is the width of a terminal that does not say.
const defaultWidth = 80

// fileTerminal is the terminalFunc of the real command: w is a terminal
// when it is an *os.File on one.
func fileTerminal(w io.Writer) (bool, int) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		width = defaultWidth
	}
	return true, width
}

// outputFlags are --json and --output of an API command.
type outputFlags struct {
	json   *bool
	output *string
	human  []string // what --output accepts besides json: "table", or "chart" and "table"
}

// addOutputFlags adds --json and --output to fs; human lists the formats
// for people, the first being the default on a terminal.
func addOutputFlags(fs *flag.FlagSet, human ...string) *outputFlags {
	if len(human) == 0 {
		human = []string{"table"}
	}
	o := &outputFlags{human: human}
	o.json = fs.Bool("json", false, "print the API's JSON (the default when stdout is not a terminal)")
	o.output = fs.String("output", "", fmt.Sprintf("output `format`: json or %s (default %s on a terminal, json otherwise)", joinOr(human), human[0]))
	return o
}

// format returns the output format: what --json or --output say, else
// the first human format on a terminal and json elsewhere.
func (o *outputFlags) format(c *cli) (string, error) {
	switch {
	case *o.json && *o.output != "" && *o.output != "json":
		return "", fmt.Errorf("--json and --output %s contradict each other", *o.output)
	case *o.json:
		return "json", nil
	case *o.output == "":
		if c.stdoutIsTerminal() {
			return o.human[0], nil
		}
		return "json", nil
	case *o.output == "json":
		return "json", nil
	}
	for _, h := range o.human {
		if *o.output == h {
			return h, nil
		}
	}
	return "", fmt.Errorf("--output %q: want json or %s", *o.output, joinOr(o.human))
}

func joinOr(words []string) string {
	switch len(words) {
	case 1:
		return words[0]
	case 2:
		return words[0] + " or " + words[1]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// stdoutIsTerminal reports whether stdout is a terminal.
func (c *cli) stdoutIsTerminal() bool {
	ok, _ := c.terminal(c.stdout)
	return ok
}

// width is the width tables and the chart fit in: the terminal's, or 0
// (no limit) when stdout is not a terminal.
func (c *cli) width() int {
	if ok, w := c.terminal(c.stdout); ok {
		return w
	}
	return 0
}

// colour reports whether output may be coloured: stdout is a terminal and
// NO_COLOR is not set (https://no-color.org).
func (c *cli) colour() bool {
	return os.Getenv("NO_COLOR") == "" && c.stdoutIsTerminal()
}

// writeJSON writes v as indented JSON: the API's shape, as scripts read it.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
