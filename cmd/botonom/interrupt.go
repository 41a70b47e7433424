package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// interruptContext returns a context that ends on the first SIGINT or
// SIGTERM, with the signal as its cause. After that first signal the
// command no longer catches them, so a second Ctrl-C ends the process at
// once whatever it is doing.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		signal.Stop(sigs)
		if ok {
			cancel(signalError{sig})
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

// signalError is the cause of a context ended by a signal.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "interrupted by " + e.sig.String() }

// interrupted reports whether the command's context ended (Ctrl-C,
// SIGTERM): it then says so on stderr and returns the exit status, 128 +
// the signal's number as shells report it (130 for Ctrl-C).
func (c *cli) interrupted() (int, bool) {
	if c.ctx.Err() == nil {
		return 0, false
	}
	fmt.Fprintln(c.stderr, "botonom: interrupted")
	if se, ok := context.Cause(c.ctx).(signalError); ok {
		if n, ok := se.sig.(syscall.Signal); ok {
			return 128 + int(n), true
		}
	}
	return exitInterrupted, true
}

// readInput reads a file, or stdin when path is "-". A read of stdin ends
// as soon as the command is interrupted, whether or not input comes.
func (c *cli) readInput(path string) ([]byte, error) {
	if path != "-" {
		return os.ReadFile(path)
	}
	// On a terminal, a command that waits for stdin looks hung: say so.
	if w, ok := c.stdin.(io.Writer); ok {
		if tty, _ := c.terminal(w); tty {
			fmt.Fprintln(c.stderr, "botonom: reading stdin: end it with Ctrl-D (Ctrl-Z, Enter on Windows), or Ctrl-C to stop")
		}
	}
	type read struct {
		b   []byte
		err error
	}
	done := make(chan read, 1)
	go func() {
		b, err := io.ReadAll(c.stdin)
		done <- read{b, err}
	}()
	select {
	case r := <-done:
		if c.ctx.Err() != nil { // the read may end with the signal (EOF of a closed terminal)
			return nil, c.ctx.Err()
		}
		return r.b, r.err
	case <-c.ctx.Done():
		return nil, c.ctx.Err()
	}
}
