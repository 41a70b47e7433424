package release

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// link matches a Markdown link's target.
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestREADME_FitsTheFirstHourAndEveryLinkResolves: the README stays short
// (at most 250 lines: install, the two commands, a tour, then links), links
// every page of docs/, and every relative link of the README, docs/, the
// side modules' READMEs and the CHANGELOG points at a file of the
// repository.
func TestREADME_FitsTheFirstHourAndEveryLinkResolves(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > 250 {
		t.Errorf("README.md has %d lines, want at most 250: move detail to docs/ and link it", n)
	}
	for _, heading := range []string{"\n## Install\n", "\n## Two commands\n", "\n## The `botonom` command\n", "\n## Many workspaces\n", "\n## Side modules\n"} {
		if !strings.Contains(string(readme), heading) {
			t.Errorf("README.md has no section %q", strings.TrimSpace(heading))
		}
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	for _, doc := range docs {
		if name := "docs/" + filepath.Base(doc); !strings.Contains(string(readme), "]("+name+")") {
			t.Errorf("README.md does not link %s", name)
		}
	}

	pages := append([]string{"README.md", "CHANGELOG.md", "botonomredis/README.md", "otelbotonom/README.md", "examples/frameworks/README.md"}, docs...)
	for _, page := range pages {
		if !filepath.IsAbs(page) {
			page = filepath.Join(root, page)
		}
		data, err := os.ReadFile(page)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			if _, err := os.Stat(filepath.Join(filepath.Dir(page), filepath.FromSlash(target))); err != nil {
				rel, _ := filepath.Rel(root, page)
				t.Errorf("%s links %s, which does not exist", rel, m[1])
			}
		}
	}
}
