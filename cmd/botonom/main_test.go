package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the command built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "botonom-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "botonom")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test
// reading at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is what a run of the binary printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

// runBinary runs the built command with args, the environment of the test
// plus env ("KEY=value"), and stdin, and waits at most 30 s.
func runBinary(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run botonom %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("botonom %s did not finish in time; stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return result{stdout.String(), stderr.String(), code}
}

// cleanEnv is the test's environment without the variables the command
// reads, so that a developer's real token never reaches a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BOTONOM_") {
			env = append(env, kv)
		}
	}
	return env
}

// mockProcess is a running "botonom mock".
type mockProcess struct {
	cmd    *exec.Cmd
	url    string
	token  string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit error, once done is closed
}

// wait waits at most d for the mock to exit and returns its exit error.
func (m *mockProcess) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-m.done:
		return m.err
	case <-time.After(d):
		t.Fatalf("mock still running after %s; stderr:\n%s", d, m.stderr)
		return nil
	}
}

var exportLine = regexp.MustCompile(`export BOTONOM_BASE_URL=(\S+) BOTONOM_API_TOKEN=(\S+)`)

// startMock starts "botonom mock --addr 127.0.0.1:0 args…", waits until it
// prints its address and answers, and stops it when the test ends.
func startMock(t *testing.T, args ...string) *mockProcess {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"mock", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = cleanEnv()
	pr, pw := io.Pipe()
	m := &mockProcess{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = io.MultiWriter(pw, m.stdout)
	cmd.Stderr = m.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.err = cmd.Wait()
		pw.Close()
		close(m.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // an error if it has exited already
		<-m.done
	})

	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if sub := exportLine.FindStringSubmatch(sc.Text()); sub != nil {
				found <- sub
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
		close(found)
	}()
	select {
	case sub, ok := <-found:
		if !ok {
			t.Fatalf("mock exited without printing its address; stdout:\n%s\nstderr:\n%s", m.stdout, m.stderr)
		}
		m.url, m.token = sub[1], sub[2]
	case <-time.After(20 * time.Second):
		t.Fatalf("mock printed no address in 20 s; stdout:\n%s\nstderr:\n%s", m.stdout, m.stderr)
	}
	return m
}

// env is the environment that points the API commands at the mock.
func (m *mockProcess) env() []string {
	return []string{"BOTONOM_BASE_URL=" + m.url, "BOTONOM_API_TOKEN=" + m.token}
}

// waitLog waits until the mock's stderr contains every one of lines
// (as regular expressions).
func (m *mockProcess) waitLog(t *testing.T, patterns ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		missing := ""
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(m.stderr.String()) {
				missing = p
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mock log has no line matching %q:\n%s", missing, m.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
