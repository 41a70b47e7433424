package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// throwawayClone returns a clone of the repository's HEAD in a temporary
// directory, with the working tree's release scripts copied over and
// committed (so the scripts under test are the ones being edited), and a
// bare "origin" of its own, to see that nothing is pushed.
func throwawayClone(t *testing.T) (clone, origin string) {
	t.Helper()
	root := repoRoot(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git on PATH")
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skipf("%s is not a git checkout", root)
	}
	tmp := t.TempDir()
	origin = filepath.Join(tmp, "origin.git")
	clone = filepath.Join(tmp, "clone")
	run(t, root, "git", "clone", "-q", "--bare", "--no-hardlinks", root, origin)
	run(t, tmp, "git", "clone", "-q", origin, clone)
	run(t, clone, "git", "config", "user.name", "release test")
	run(t, clone, "git", "config", "user.email", "release-test@example.com")
	for _, name := range []string{"scripts/release", "scripts/modules", "scripts/published-modules", "CHANGELOG.md"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(clone, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run(t, clone, "git", "add", "-A")
	run(t, clone, "git", "commit", "-q", "--allow-empty", "-m", "the release scripts under test")
	return clone, origin
}

// run runs a command in dir and returns its output; it fails the test if
// the command fails.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	out, err := command(dir, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func command(dir string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	return cmd
}

// release runs scripts/release in the clone and returns its output and
// whether it succeeded.
func release(t *testing.T, clone, version string) (string, bool) {
	t.Helper()
	out, err := command(clone, "scripts/release", version).CombinedOutput()
	return string(out), err == nil
}

// TestRelease_RefusesAndTags runs scripts/release in a throwaway clone: it
// refuses a malformed version, a dirty tree, a CHANGELOG without the
// version's section and a version not above the last tag, changing nothing;
// then releases v0.1.0 and v0.2.0: one commit "release vX.Y.Z" each, the side
// modules' and the examples' requirements and the Version constant set to
// it, every module tidy, the tags vX.Y.Z, botonomredis/vX.Y.Z and
// otelbotonom/vX.Y.Z (no example) at that commit, nothing pushed.
func TestRelease_RefusesAndTags(t *testing.T) {
	if testing.Short() {
		t.Skip("tidies every module of a clone twice")
	}
	clone, origin := throwawayClone(t)
	head := run(t, clone, "git", "rev-parse", "HEAD")
	refused := func(version, why string) {
		t.Helper()
		out, ok := release(t, clone, version)
		if ok {
			t.Fatalf("scripts/release %s succeeded, want a refusal (%s):\n%s", version, why, out)
		}
		if !strings.Contains(out, why) {
			t.Errorf("scripts/release %s said:\n%s\nwant it to say %q", version, out, why)
		}
		if got := run(t, clone, "git", "rev-parse", "HEAD"); got != head {
			t.Errorf("scripts/release %s refused but committed %s", version, got)
		}
		if tags := run(t, clone, "git", "tag"); tags != "" {
			t.Errorf("scripts/release %s refused but tagged %q", version, tags)
		}
	}

	for _, v := range []string{"0.1.0", "v0.1", "v0.1.0-rc.1", "v01.2.3", "v0.1.0 ", ""} {
		refused(v, "malformed version")
	}
	refused("v0.3.0", "CHANGELOG.md has no section for v0.3.0")

	if err := os.WriteFile(filepath.Join(clone, "stray.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused("v0.1.0", "not clean")
	if err := os.Remove(filepath.Join(clone, "stray.txt")); err != nil {
		t.Fatal(err)
	}

	out, ok := release(t, clone, "v0.1.0")
	if !ok {
		t.Fatalf("scripts/release v0.1.0 failed:\n%s", out)
	}
	checkRelease(t, clone, "v0.1.0")

	// The next release: its CHANGELOG section, then the script.
	addChangelogSection(t, clone, "0.2.0")
	out, ok = release(t, clone, "v0.2.0")
	if !ok {
		t.Fatalf("scripts/release v0.2.0 failed:\n%s", out)
	}
	checkRelease(t, clone, "v0.2.0")

	head = run(t, clone, "git", "rev-parse", "HEAD")
	tags := run(t, clone, "git", "tag")
	for _, v := range []string{"v0.2.0", "v0.1.0", "v0.1.9"} {
		out, ok := release(t, clone, v)
		if ok || !strings.Contains(out, "not above the last release, v0.2.0") {
			t.Errorf("scripts/release %s after v0.2.0: ok=%v\n%s\nwant a refusal: not above the last release", v, ok, out)
		}
	}
	if got := run(t, clone, "git", "rev-parse", "HEAD"); got != head {
		t.Errorf("a refused release committed %s", got)
	}
	if got := run(t, clone, "git", "tag"); got != tags {
		t.Errorf("a refused release changed the tags: %q, was %q", got, tags)
	}

	if remote := run(t, origin, "git", "tag"); remote != "" {
		t.Errorf("the origin got tags %q: scripts/release must push nothing", remote)
	}
	if got, want := run(t, origin, "git", "rev-parse", "HEAD"), run(t, repoRoot(t), "git", "rev-parse", "HEAD"); got != want {
		t.Errorf("the origin's HEAD moved to %s: scripts/release must push nothing", got)
	}
}

// addChangelogSection commits a CHANGELOG.md section for version (X.Y.Z)
// above the 0.1.0 one in the clone.
func addChangelogSection(t *testing.T, clone, version string) {
	t.Helper()
	changelog := filepath.Join(clone, "CHANGELOG.md")
	data, err := os.ReadFile(changelog)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "## [0.1.0]", "## ["+version+"] - 2027-01-01\n\n### Fixed\n\n- Something.\n\n## [0.1.0]", 1))
	if err := os.WriteFile(changelog, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, clone, "git", "commit", "-q", "-am", "changelog for v"+version)
}

// checkRelease checks the clone's HEAD is the release commit of version,
// with its tags, requirements and Version constant, and a clean tree.
func checkRelease(t *testing.T, clone, version string) {
	t.Helper()
	if subject := run(t, clone, "git", "log", "-1", "--format=%s"); subject != "release "+version {
		t.Errorf("HEAD's subject is %q, want %q", subject, "release "+version)
	}
	head := run(t, clone, "git", "rev-parse", "HEAD")
	for _, tag := range []string{version, "botonomredis/" + version, "otelbotonom/" + version} {
		if got := run(t, clone, "git", "rev-parse", tag+"^{commit}"); got != head {
			t.Errorf("tag %s is at %s, want the release commit %s", tag, got, head)
		}
	}
	if tags := run(t, clone, "git", "tag", "--points-at", "HEAD"); strings.Contains(tags, "examples/") || strings.Contains(tags, "internal/") {
		t.Errorf("tags at the release %q: the examples and internal tools are not published", tags)
	}
	if status := run(t, clone, "git", "status", "--porcelain"); status != "" {
		t.Errorf("the tree is not clean after the release:\n%s", status)
	}
	botonom, err := os.ReadFile(filepath.Join(clone, "botonom.go"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `const Version = "` + strings.TrimPrefix(version, "v") + `"`; !strings.Contains(string(botonom), want) {
		t.Errorf("botonom.go has no %s", want)
	}
	for dir, f := range goMods(t, clone) {
		for _, r := range f.Require {
			if strings.HasPrefix(r.Path, rootModule) && r.Version != version {
				t.Errorf("%s/go.mod requires %s %s after the release of %s", dir, r.Path, r.Version, version)
			}
		}
	}
}

// TestRelease_SideModuleTagAndFailureMidway runs scripts/release in a
// throwaway clone where a side module is already tagged alone
// (botonomredis/v0.1.0, no root tag): v0.1.0 is refused as not above the
// last release, before any commit or tag. Then a release of v0.2.0 that
// fails midway (a pre-commit hook refuses the commit, after the requirements,
// the Version constant and every go.mod and go.sum were changed) leaves
// nothing behind: HEAD, the tags and a clean tree as before.
func TestRelease_SideModuleTagAndFailureMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("tidies every module of a clone")
	}
	clone, _ := throwawayClone(t)
	head := run(t, clone, "git", "rev-parse", "HEAD")
	unchanged := func(what string) {
		t.Helper()
		if got := run(t, clone, "git", "rev-parse", "HEAD"); got != head {
			t.Errorf("%s: HEAD moved to %s", what, got)
		}
		if status := run(t, clone, "git", "status", "--porcelain"); status != "" {
			t.Errorf("%s: the tree is not clean:\n%s", what, status)
		}
	}

	run(t, clone, "git", "tag", "botonomredis/v0.1.0")
	out, ok := release(t, clone, "v0.1.0")
	if ok || !strings.Contains(out, "not above the last release, v0.1.0") {
		t.Errorf("scripts/release v0.1.0 with botonomredis/v0.1.0 tagged: ok=%v\n%s\nwant a refusal: not above the last release", ok, out)
	}
	if tags := run(t, clone, "git", "tag"); tags != "botonomredis/v0.1.0" {
		t.Errorf("a refused release changed the tags: %q", tags)
	}
	unchanged("refused over a side module's tag")
	run(t, clone, "git", "tag", "-d", "botonomredis/v0.1.0")

	addChangelogSection(t, clone, "0.2.0")
	head = run(t, clone, "git", "rev-parse", "HEAD")
	hook := filepath.Join(clone, ".git", "hooks", "pre-commit")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'hook: no' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, ok = release(t, clone, "v0.2.0")
	if ok {
		t.Fatalf("scripts/release v0.2.0 succeeded with a pre-commit hook refusing:\n%s", out)
	}
	if !strings.Contains(out, "undone") {
		t.Errorf("a failed release said:\n%s\nwant it to say the commit and tags are undone", out)
	}
	if tags := run(t, clone, "git", "tag"); tags != "" {
		t.Errorf("a failed release left tags %q", tags)
	}
	unchanged("failed midway")
}
