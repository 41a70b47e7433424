package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	botonom "github.com/botonom/botonom-go"
)

const verifyUsage = `Usage: botonom verify --secret SECRET --header 'X-Botonom-Signature value' [FILE|-]

Checks that a captured webhook delivery is authentic: that the header (the
X-Botonom-Signature value, "t=…,v1=…"; a pasted "X-Botonom-Signature: …"
line works too) signs the body in FILE (stdin without FILE, or with "-")
with SECRET, and that it was signed within the tolerance of now. The body
must be the raw bytes as received: re-encoded or re-indented JSON, or a
newline added by an editor, no longer matches.

Prints "signature valid (event evt_…, type …)" and exits 0, or says why the
delivery fails (a bad header, no matching v1 signature, expired by how much)
and exits 1.

The secret may come from BOTONOM_WEBHOOK_SECRET instead of --secret.
`

func runVerify(c *cli, args []string) int {
	fs := newFlagSet("verify")
	secretValue := secretFlag(fs, "the webhook `secret`", "")
	header := fs.String("header", "", "the X-Botonom-Signature `value` of the delivery")
	tolerance := fs.Duration("tolerance", botonom.DefaultSignatureTolerance, "how far the signature's timestamp may be from now")
	noTimestamp := fs.Bool("no-timestamp-check", false, "accept a valid signature however old (for stored deliveries)")
	pos, code, ok := c.parse(fs, verifyUsage, args, nil, 1)
	if !ok {
		return code
	}
	secret := resolveSecret(*secretValue, "")
	value := strings.TrimSpace(*header)
	if name, rest, found := strings.Cut(value, ":"); found && strings.EqualFold(strings.TrimSpace(name), botonom.SignatureHeader) {
		value = strings.TrimSpace(rest)
	}
	switch {
	case value == "":
		return c.usageError(fs, errors.New("--header is required"))
	case secret == "":
		return c.usageError(fs, errors.New("--secret (or BOTONOM_WEBHOOK_SECRET) is required"))
	case *noTimestamp && isSet(fs, "tolerance"):
		return c.usageError(fs, errors.New("--tolerance and --no-timestamp-check contradict each other"))
	case *tolerance <= 0:
		return c.usageError(fs, fmt.Errorf("--tolerance %s: want a positive duration (or --no-timestamp-check)", *tolerance))
	}
	path := "-"
	if len(pos) == 1 {
		path = pos[0]
	}
	body, err := c.readInput(path)
	if err != nil {
		return c.fail(err)
	}

	var opt botonom.VerifyOption = botonom.WithTolerance(*tolerance)
	if *noTimestamp {
		opt = botonom.WithoutTimestampCheck()
	}
	ev, err := botonom.ConstructEvent(body, value, secret, opt)
	if err == nil {
		fmt.Fprintf(c.stdout, "signature valid (event %s, type %s)\n", ev.ID, ev.Type)
		return exitOK
	}
	why := strings.TrimPrefix(err.Error(), "botonom: ")
	switch {
	case errors.Is(err, botonom.ErrInvalidEvent):
		fmt.Fprintf(c.stderr, "signature valid, but the body is not a Botonom event: %s\n", why)
	case errors.Is(err, botonom.ErrSignatureExpired):
		fmt.Fprintf(c.stderr, "signature invalid: %s\n", why)
		fmt.Fprintln(c.stderr, "The signature is authentic but too old or too new: a replay, a wrong clock, or a stored delivery (--no-timestamp-check, --tolerance).")
	case errors.Is(err, botonom.ErrSignatureMismatch):
		fmt.Fprintf(c.stderr, "signature invalid: %s: no v1 signature in the header matches this body with this secret\n", why)
		fmt.Fprintf(c.stderr, "hint: %s\n", botonom.SignatureFailureHint(err))
		if bytes.HasSuffix(body, []byte("\n")) {
			fmt.Fprintln(c.stderr, "Note: the body ends with a newline; deliveries do not, so if it was added when saving, remove it.")
		}
	case errors.Is(err, botonom.ErrInvalidSignatureHeader), errors.Is(err, botonom.ErrMissingSignature):
		fmt.Fprintf(c.stderr, "signature invalid: %s\n", why)
		fmt.Fprintln(c.stderr, `The header must look like "t=<unix seconds>,v1=<64 hex digits>".`)
	default:
		return c.fail(err)
	}
	return exitFailure
}
