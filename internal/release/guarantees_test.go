package release

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// testName matches a test, fuzz target, example or benchmark named in
	// backquotes, with a trailing * for every test of that prefix.
	testName = regexp.MustCompile("`((?:Test|Fuzz|Example|Benchmark)[A-Za-z0-9_]*)(\\*?)`")
	// testFunc matches the declaration of one in a _test.go file.
	testFunc = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Example|Benchmark)[A-Za-z0-9_]*)\(`)
)

// TestGuarantees_EveryRowNamesATestThatExists: each row of
// docs/guarantees.md names at least one test, and every test it names is
// declared in a _test.go file of the repository (any module), so a renamed
// or deleted test cannot leave a promise held by nothing.
func TestGuarantees_EveryRowNamesATestThatExists(t *testing.T) {
	root := repoRoot(t)
	declared := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllStringSubmatch(string(data), -1) {
			declared[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "guarantees.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for i, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| promise |") {
			continue
		}
		rows++
		names := testName.FindAllStringSubmatch(line, -1)
		if len(names) == 0 {
			t.Errorf("docs/guarantees.md:%d names no test", i+1)
		}
		for _, m := range names {
			if !isDeclared(declared, m[1], m[2] == "*") {
				t.Errorf("docs/guarantees.md:%d names %s%s, which no _test.go declares", i+1, m[1], m[2])
			}
		}
	}
	if rows < 50 {
		t.Errorf("docs/guarantees.md has %d rows: the table was not found", rows)
	}
}

func isDeclared(declared map[string]bool, name string, prefix bool) bool {
	if !prefix {
		return declared[name]
	}
	for d := range declared {
		if strings.HasPrefix(d, name) {
			return true
		}
	}
	return false
}
