package apiguard

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden listings in api/go/ from the current public API")

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../.."

// goldenDir holds one listing per module that has a public API.
var goldenDir = filepath.Join(repoRoot, "api", "go")

// goldenName names the listing of the module in dir (relative to the root):
// botonom-go.txt for the root, botonomredis.txt, examples-frameworks.txt.
func goldenName(dir string) string {
	if dir == "." {
		return "botonom-go.txt"
	}
	return strings.ReplaceAll(dir, "/", "-") + ".txt"
}

// modules returns the module directories from scripts/modules, the list CI
// and scripts/test loop over.
func modules(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("scripts/modules")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/modules: %v", err)
	}
	return strings.Fields(string(out))
}

// readListing returns the lines of a golden file; none if it is absent.
func readListing(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// TestPublicAPI_MatchesTheGoldenListings fails on any change to the public
// API of any module until api/go/ is rewritten on purpose with
//
//	go test ./internal/apiguard -update
//
// and the diff is committed with the change, for review.
func TestPublicAPI_MatchesTheGoldenListings(t *testing.T) {
	want := map[string]bool{} // golden files that should exist
	for _, dir := range modules(t) {
		name := goldenName(dir)
		t.Run(name, func(t *testing.T) {
			got, err := Listing(filepath.Join(repoRoot, dir))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(goldenDir, name)
			if len(got) > 0 {
				want[name] = true
			}
			if *update {
				writeListing(t, path, got)
				return
			}
			if diff := Diff(readListing(t, path), got); diff != "" {
				t.Errorf("the public API of module %s changed (- in api/go/%s, + now):\n%s\n"+
					"If the change is intended, run `go test ./internal/apiguard -update` from the repository root "+
					"and commit api/go/%s with it.", dir, name, diff, name)
			}
		})
	}
	entries, err := os.ReadDir(goldenDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if want[e.Name()] {
			continue
		}
		path := filepath.Join(goldenDir, e.Name())
		if *update {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("api/go/%s lists no module with a public API (a module was removed or lost its API); "+
			"run `go test ./internal/apiguard -update` from the repository root", e.Name())
	}
}

// writeListing writes a golden file, or removes it for a module with no
// public API.
func writeListing(t *testing.T, path string, lines []string) {
	t.Helper()
	if len(lines) == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture is a module with one exported name of every kind, an internal
// package and a main package.
var fixture = map[string]string{
	"go.mod": "module example.com/fixture\n\ngo 1.23\n",
	"fixture.go": `package fixture

import (
	"context"
	"io"
	"iter"
	"net/http"
	"time"
)

const Untyped = 3
const Typed time.Duration = 2 * time.Second
const Name Kind = "a\tb"

var ErrX error
var unexportedVar int

type Kind string

type Config struct {
	*http.Response
	Base
	Name   string
	Tags   map[string][]int
	Hook   func(ctx context.Context, n int) (ok bool, err error)
	Inline struct{ A, b int }
	hidden int
}

type Base struct{ ID string }

func (Base) Describe() string { return "" }

type Store interface {
	io.Closer
	Get(ctx context.Context, key string) ([]byte, error)
	put()
}

type Empty interface{}

type Alias = func(*http.Request) (*http.Response, error)

type List[T any] struct{ items []T }

func (l *List[T]) All() iter.Seq2[int, T] { return nil }

func Map[K comparable, V any](m map[K]V, keys ...K) <-chan V { return nil }

func New(name string, opts ...func(*Config)) (*Config, error) { return nil, nil }

func (c *Config) Do(v any) error { return nil }

func (c Config) String() string { return "" }

func (c *Config) unexported() {}

func unexportedFunc() {}
`,
	"internal/secret/secret.go": "package secret\n\nfunc Hidden() {}\n",
	"cmd/tool/main.go":          "package main\n\nfunc Exported() {}\n\nfunc main() {}\n",
}

// wantFixture is the listing of fixture.
var wantFixture = []string{
	"pkg example.com/fixture, const Name Kind = \"a\\tb\"",
	"pkg example.com/fixture, const Typed time.Duration = 2000000000",
	"pkg example.com/fixture, const Untyped untyped int = 3",
	"pkg example.com/fixture, func Map[K comparable, V any](map[K]V, ...K) <-chan V",
	"pkg example.com/fixture, func New(string, ...func(*Config)) (*Config, error)",
	"pkg example.com/fixture, method (*Config) Do(any) error",
	"pkg example.com/fixture, method (*List[T]) All() iter.Seq2[int, T]",
	"pkg example.com/fixture, method (Base) Describe() string",
	"pkg example.com/fixture, method (Config) String() string",
	"pkg example.com/fixture, type Alias = func(*http.Request) (*http.Response, error)",
	"pkg example.com/fixture, type Base struct",
	"pkg example.com/fixture, type Base struct, ID string",
	"pkg example.com/fixture, type Config struct",
	"pkg example.com/fixture, type Config struct, Hook func(context.Context, int) (bool, error)",
	"pkg example.com/fixture, type Config struct, Inline struct{A int; b int}",
	"pkg example.com/fixture, type Config struct, Name string",
	"pkg example.com/fixture, type Config struct, Tags map[string][]int",
	"pkg example.com/fixture, type Config struct, embedded *http.Response",
	"pkg example.com/fixture, type Config struct, embedded Base",
	"pkg example.com/fixture, type Empty interface {}",
	"pkg example.com/fixture, type Kind string",
	"pkg example.com/fixture, type List[T any] struct",
	"pkg example.com/fixture, type Store interface { Close, Get, unexported methods }",
	"pkg example.com/fixture, type Store interface, Close() error",
	"pkg example.com/fixture, type Store interface, Get(context.Context, string) ([]byte, error)",
	"pkg example.com/fixture, var ErrX error",
}

func writeFixture(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestListing_EveryKindOfExportedName(t *testing.T) {
	t.Parallel()
	got, err := Listing(writeFixture(t, fixture))
	if err != nil {
		t.Fatal(err)
	}
	if diff := Diff(wantFixture, got); diff != "" {
		t.Errorf("listing differs from the expected one (- want, + got):\n%s", diff)
	}
}

func TestListing_AChangedAPIShowsAsADiff(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"go.mod": "module example.com/fixture\n\ngo 1.23\n",
		"a.go":   "package fixture\n\nfunc Kept(n int) string { return \"\" }\n\nfunc Removed() {}\n",
	}
	before, err := Listing(writeFixture(t, files))
	if err != nil {
		t.Fatal(err)
	}
	files["a.go"] = "package fixture\n\nfunc Kept(n int) string { return \"\" }\n\nfunc Added(s ...string) {}\n"
	after, err := Listing(writeFixture(t, files))
	if err != nil {
		t.Fatal(err)
	}
	want := "+pkg example.com/fixture, func Added(...string)\n-pkg example.com/fixture, func Removed()\n"
	if got := Diff(before, after); got != want {
		t.Errorf("Diff = %q, want %q", got, want)
	}
	if got := Diff(after, slices.Clone(after)); got != "" {
		t.Errorf("Diff of a listing with itself = %q, want none", got)
	}
}

func TestListing_AModuleThatDoesNotBuildIsAnError(t *testing.T) {
	t.Parallel()
	_, err := Listing(writeFixture(t, map[string]string{
		"go.mod": "module example.com/fixture\n\ngo 1.23\n",
		"a.go":   "package fixture\n\nfunc Broken() { undefined() }\n",
	}))
	if err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Errorf("Listing of a module that does not build: err = %v, want one that names the compile error", err)
	}
}
