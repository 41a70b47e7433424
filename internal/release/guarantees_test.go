package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// guaranteeTest matches a test, fuzz test, example or benchmark a row of
// docs/guarantees.md names, or a family of them ("TestDialGate_*").
var guaranteeTest = regexp.MustCompile("`((?:Test|Fuzz|Example|Benchmark)[A-Za-z0-9_]*)(\\*)?`")

// TestGuarantees_EveryNamedTestExists: every test the Guarantees table
// names to hold a row is defined in a _test.go file of the repository (a
// family "X_*", at least one test of it), so no row rests on a test that
// was renamed or removed.
func TestGuarantees_EveryNamedTestExists(t *testing.T) {
	root := repoRoot(t)
	table, err := os.ReadFile(filepath.Join(root, "docs", "guarantees.md"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "*_test.go").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	var defined []string // "func Name(" of every test file
	for _, name := range strings.Fields(string(out)) {
		data, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "func "); ok {
				if name, _, ok := strings.Cut(rest, "("); ok {
					defined = append(defined, name)
				}
			}
		}
	}
	matches := guaranteeTest.FindAllStringSubmatch(string(table), -1)
	if len(matches) < 100 {
		t.Fatalf("found %d test names in docs/guarantees.md: not the table?", len(matches))
	}
	for _, m := range matches {
		name, family := m[1], m[2] != ""
		found := false
		for _, d := range defined {
			if d == name || family && strings.HasPrefix(d, name) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/guarantees.md names %s, defined in no test file", m[0])
		}
	}
}
