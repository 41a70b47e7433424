// Package release holds the tests of the repository's release layout: the
// modules' requirements of each other, scripts/release, and what the
// published modules say to their users.
package release

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const rootModule = "github.com/botonom/botonom-go"

// repoRoot returns the repository's root directory (this package is two
// directories below it).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goMod is what `go mod edit -json` says of a go.mod.
type goMod struct {
	Go      string
	Require []struct{ Path, Version string }
	Replace []struct {
		Old struct{ Path string }
		New struct{ Path, Version string }
	}
}

// goMods returns every go.mod of the repository (committed or not, ignored
// files aside), parsed, by directory.
func goMods(t *testing.T, root string) map[string]goMod {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "go.mod", "*/go.mod").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	mods := map[string]goMod{}
	for _, name := range strings.Fields(string(out)) {
		js, err := exec.Command("go", "mod", "edit", "-json", filepath.Join(root, name)).Output()
		if err != nil {
			t.Fatalf("go mod edit -json %s: %v", name, err)
		}
		var m goMod
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatal(err)
		}
		mods[filepath.Dir(name)] = m
	}
	return mods
}

// releaseVersion matches a release version: vX.Y.Z, no pre-release, no
// pseudo-version.
var releaseVersion = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// isDir reports whether a replacement is a directory (./ or ../).
func isDir(p string) bool {
	return strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || p == "." || p == ".."
}

// TestGoMod_ModulesRequireTheSDKAtARelease holds what makes a side module
// resolve alone once tagged: every module of the repository that requires
// another of its modules requires it at a release version (vX.Y.Z, never a
// pseudo-version such as v0.0.0-00010101000000-000000000000, which no proxy
// serves), and keeps a replace to the directory only for work inside the
// repository. Every go.mod says go 1.26.0, the oldest supported Go.
func TestGoMod_ModulesRequireTheSDKAtARelease(t *testing.T) {
	root := repoRoot(t)
	mods := goMods(t, root)
	if len(mods) < 3 {
		t.Fatalf("found %d go.mod files in %s, want the root and the side modules", len(mods), root)
	}
	requiresRoot := 0
	for dir, f := range mods {
		if f.Go != "1.26.0" {
			t.Errorf("%s/go.mod: go %s, want go 1.26.0", dir, f.Go)
		}
		replaced := map[string]string{}
		for _, r := range f.Replace {
			replaced[r.Old.Path] = r.New.Path
		}
		for _, r := range f.Require {
			if !strings.HasPrefix(r.Path, rootModule) {
				continue
			}
			if r.Path == rootModule {
				requiresRoot++
			}
			if !releaseVersion.MatchString(r.Version) {
				t.Errorf("%s/go.mod requires %s %s: want a release version vX.Y.Z, which a user's go get can fetch", dir, r.Path, r.Version)
			}
			if to, ok := replaced[r.Path]; !ok || !isDir(to) {
				t.Errorf("%s/go.mod: %s has no replace by a directory of the repository (got %q): work inside the repository would build the published release", dir, r.Path, to)
			}
		}
		for _, r := range f.Replace {
			if strings.HasPrefix(r.Old.Path, rootModule) && !isDir(r.New.Path) {
				t.Errorf("%s/go.mod replaces %s by %s: only by a directory of the repository", dir, r.Old.Path, r.New.Path)
			}
		}
	}
	if requiresRoot < 2 {
		t.Errorf("%d modules require %s, want at least botonomredis and otelbotonom", requiresRoot, rootModule)
	}
}

// TestGoMod_NoZeroPseudoVersionAnywhere: the zero pseudo-version, which only
// a replace can satisfy, appears in no go.mod or go.sum of the repository.
func TestGoMod_NoZeroPseudoVersionAnywhere(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "go.mod", "*/go.mod", "go.sum", "*/go.sum").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	files := strings.Fields(string(out))
	if len(files) == 0 {
		t.Fatal("git ls-files found no go.mod")
	}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "v0.0.0-00010101000000-000000000000") {
			t.Errorf("%s holds the zero pseudo-version v0.0.0-00010101000000-000000000000: require a release instead", name)
		}
	}
}
