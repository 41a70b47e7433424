// Command botonom is the Botonom API from the terminal: a local mock of the
// API for development, signed test webhook deliveries and their
// verification, and thin calls to the API through the Go SDK.
//
//	go install github.com/botonom/botonom-go/cmd/botonom@latest
//
//	botonom mock                                  # a fake API on 127.0.0.1:12111
//	botonom trigger agent.task.completed --url http://localhost:8080/webhook --secret whsec_…
//	botonom verify --secret whsec_… --header 't=…,v1=…' body.json
//	botonom agents list                           # BOTONOM_API_TOKEN, BOTONOM_BASE_URL
//	botonom agents tasks agt_abc123 --status failed --all
//	botonom message agt_abc123 "Book a table for 4 at 7pm tomorrow"
//	botonom usage --granularity day               # a bar chart on a terminal
//
// On a terminal, lists print as tables and usage as a bar chart; when
// stdout is not a terminal (a pipe, a file) every API command prints the
// API's JSON, as --json does anywhere.
//
// Every command takes --help. Exit status: 0 on success, 1 when the command
// failed (an API error, a refused delivery, an invalid signature), 2 on a
// usage error, 130 when interrupted (Ctrl-C). The logic lives in the
// packages botonom and botonomtest; this command only parses flags, calls
// them and prints.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	botonom "github.com/botonom/botonom-go"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1   // the command ran and failed
	exitUsage       = 2   // the command line is wrong
	exitInterrupted = 130 // SIGINT (128+2), as shells report it
)

func main() {
	ctx, stop := interruptContext()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli is what a command runs with: where it reads and writes, a context
// that ends on SIGINT or SIGTERM, and the check that says whether stdout
// and stderr are terminals.
type cli struct {
	ctx      context.Context
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	terminal terminalFunc
}

// command is one top-level command.
type command struct {
	name    string
	summary string
	run     func(c *cli, args []string) int
}

func commands() []command {
	return []command{
		{"mock", "serve a local fake Botonom API until interrupted", runMock},
		{"trigger", "send a signed test webhook delivery to a URL", runTrigger},
		{"verify", "check the signature of a captured webhook delivery", runVerify},
		{"agents", "list, get and change agents; read their tasks", runAgents},
		{"message", "send a message to an agent", runMessage},
		{"webhooks", "register a webhook endpoint", runWebhooks},
		{"usage", "read token usage", runUsage},
		{"version", "print the SDK version", runVersion},
	}
}

const mainUsage = `botonom is the Botonom API from the terminal.

Usage:
  botonom COMMAND [flags] [arguments]

Commands:
%s
API commands (agents, message, webhooks, usage) read BOTONOM_API_TOKEN and,
if set, BOTONOM_BASE_URL (start "botonom mock" for a local API to point them
at).

Output: on a terminal, the API commands print tables, aligned fields and a
usage bar chart sized to its width (no colour when NO_COLOR is set). When
stdout is not a terminal (a pipe, a file), they print the API's JSON, as
--json does anywhere, so scripts read JSON. --output table forces a table.

trigger and verify read the webhook secret from --secret or
BOTONOM_WEBHOOK_SECRET; trigger and mock share the test secret
` + defaultTestSecret + ` when neither is set.

Run "botonom COMMAND --help" (or "botonom help COMMAND") for a command's
usage and flags.
Exit status: 0 success, 1 failure, 2 usage error, 130 interrupted.
`

func printMainUsage(w io.Writer) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, cmd := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, mainUsage, b.String())
}

// run runs the command line args (without the program name) and returns
// the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return (&cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, terminal: fileTerminal}).run(args)
}

// run runs the command line args with what c holds.
func (c *cli) run(args []string) int {
	stdout, stderr := c.stdout, c.stderr
	if len(args) == 0 {
		printMainUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		printMainUsage(stdout)
		return exitOK
	case "help":
		if len(args) == 1 {
			printMainUsage(stdout)
			return exitOK
		}
		return c.run([]string{args[1], "--help"})
	case "-version", "--version":
		name = "version"
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd.run(c, args[1:])
		}
	}
	fmt.Fprintf(stderr, "botonom: unknown command %q\n%s\n", name, helpHint("botonom"))
	return exitUsage
}

func runVersion(c *cli, args []string) int {
	fs := newFlagSet("version")
	if _, code, ok := c.parse(fs, "Usage: botonom version\n\nPrints the version of the Botonom Go SDK the command is built with.\n", args, nil, 0); !ok {
		return code
	}
	fmt.Fprintf(c.stdout, "botonom %s\n", botonom.Version)
	return exitOK
}

// newFlagSet returns a flag set that reports nothing itself: parse does.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("botonom "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args, flags and arguments in any order (arguments after
// "--" are never flags), and checks that the required arguments (named as
// in the usage, such as "AGENT_ID") are there and that there are at most
// maxArgs (maxArgs < 0: no limit). On --help it prints usage and the flags
// to stdout; on an error, the error and a pointer to --help to stderr. ok
// is false when the command must end with code.
func (c *cli) parse(fs *flag.FlagSet, usage string, args []string, required []string, maxArgs int) (pos []string, code int, ok bool) {
	pos, err := parseInterspersed(fs, args)
	if err == nil {
		switch {
		case len(pos) < len(required):
			err = fmt.Errorf("missing %s", strings.Join(required[len(pos):], " and "))
		case maxArgs >= 0 && len(pos) > maxArgs:
			err = fmt.Errorf("unexpected argument %q", pos[maxArgs])
		}
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(c.stdout, fs, usage)
		return nil, exitOK, false
	case err != nil:
		return nil, c.usageError(fs, errors.New(flagDashes.Replace(err.Error()))), false
	}
	return pos, exitOK, true
}

// flagDashes makes package flag's errors name a flag as the usage lines
// and --help do: "flag needs an argument: --from", not "-from".
var flagDashes = strings.NewReplacer(
	"flag provided but not defined: -", "unknown flag --",
	"flag needs an argument: -", "flag needs an argument: --",
	"for flag -", "for flag --",
)

// usageError reports a bad command line: the error, then one line that
// points to the command's --help (the usage would bury the error).
func (c *cli) usageError(fs *flag.FlagSet, err error) int {
	fmt.Fprintf(c.stderr, "%s: %v\n%s\n", fs.Name(), err, helpHint(fs.Name()))
	return exitUsage
}

// helpHint is the line a usage error ends with.
func helpHint(command string) string {
	if command == "botonom" {
		return `Run "botonom --help" for the list of commands.`
	}
	return fmt.Sprintf("Run %q for usage and flags.", command+" --help")
}

func printUsage(w io.Writer, fs *flag.FlagSet, usage string) {
	fmt.Fprint(w, usage)
	printFlags(w, "Flags:", fs)
}

// printFlags prints title and the flags of fs, if it has any.
func printFlags(w io.Writer, title string, fs *flag.FlagSet) {
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if !hasFlags {
		return
	}
	fmt.Fprintln(w, "\n"+title)
	// PrintDefaults names a flag "-json"; the usage lines, the README and
	// the errors write "--json": so does the list (both are accepted).
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	io.WriteString(w, strings.ReplaceAll("\n"+b.String(), "\n  -", "\n  --")[1:])
}

func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// fail reports an error of a command that ran and returns exitFailure. The
// SDK's errors start with "botonom: " already; an *APIError says the
// status, type, code, message and request ID. A hint follows for the
// mistakes of a first try: the wrong token, nothing listening at the base
// URL, a base URL without the API's version.
func (c *cli) fail(err error) int {
	if code, ok := c.interrupted(); ok {
		return code
	}
	fmt.Fprintf(c.stderr, "botonom: %s\n", strings.TrimPrefix(err.Error(), "botonom: "))
	var apiErr *botonom.APIError
	switch {
	case errors.Is(err, botonom.ErrUnauthorized):
		fmt.Fprintln(c.stderr, "hint: check BOTONOM_API_TOKEN (and BOTONOM_BASE_URL)")
	case errors.Is(err, syscall.ECONNREFUSED):
		fmt.Fprintf(c.stderr, "hint: nothing answers there: is \"botonom mock\" running? %s\n", baseURLSetting())
	case errors.As(err, &apiErr) && apiErr.Code == "unknown_path":
		fmt.Fprintf(c.stderr, "hint: the API has no such path: %s; it should end in /v1/ (the address \"botonom mock\" prints)\n", baseURLSetting())
	}
	return exitFailure
}

// baseURLSetting says where BOTONOM_BASE_URL points the API commands.
func baseURLSetting() string {
	if u := os.Getenv("BOTONOM_BASE_URL"); u != "" {
		return fmt.Sprintf("BOTONOM_BASE_URL is %s", u)
	}
	return "BOTONOM_BASE_URL is not set (the API at " + botonom.DefaultBaseURL + ")"
}

// contextWithTimeout bounds a command's work: the context ends on
// SIGINT/SIGTERM or after d.
func contextWithTimeout(c *cli, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, d)
}
