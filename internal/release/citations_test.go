package release

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// citation matches a reference to the maintainers' design notes ("§7" of
// them, their file) or house style file, which users do not have. The words
// are split so that this file does not match itself.
var citation = regexp.MustCompile(`\b` + "DES" + `IGN\b|\b` + "STY" + `LE\.md\b`)

// TestDocs_CiteNoFileUsersDoNotHave: no file of the repository — the
// published modules' Go files, go doc comments and tests, the README and
// docs/, the scripts — cites a document that is not in it.
func TestDocs_CiteNoFileUsersDoNotHave(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	names := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(names) < 50 {
		t.Fatalf("git ls-files listed %d files: not the repository?", len(names))
	}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) || bytes.IndexByte(data, 0) >= 0 {
			continue // deleted in the working tree, or binary
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if citation.MatchString(line) {
				t.Errorf("%s:%d cites a document users do not have: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
}
