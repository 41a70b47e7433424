// Command modproxy packs modules of a Git repository, as a tag of one
// revision would publish them, into a file-based module proxy: the layout
// `go help goproxy` describes (@v/list, .info, .mod, .zip), which the go
// command reads through GOPROXY=file:///path. scripts/rehearse-release uses
// it to go-get the SDK's modules from a fresh module as a user would, before
// anything is tagged.
//
// Usage:
//
//	modproxy -out DIR -version vX.Y.Z [-repo DIR] [-rev HEAD] MODDIR...
//
// Each MODDIR is a module's directory relative to the repository's root
// ("." for the root). The zip holds the module's files committed at the
// revision (a nested module's files excluded), as `go mod download` of a
// tag would get them; the .mod is its go.mod at that revision, unchanged:
// a requirement that would not resolve once published fails the rehearsal.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	out := flag.String("out", "", "the proxy's directory (created if missing)")
	version := flag.String("version", "", "the version every module is packed at (vX.Y.Z)")
	repo := flag.String("repo", ".", "the Git repository's root")
	rev := flag.String("rev", "HEAD", "the revision packed")
	flag.Parse()
	if *out == "" || *version == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: modproxy -out DIR -version vX.Y.Z [-repo DIR] [-rev HEAD] MODDIR...")
		os.Exit(2)
	}
	for _, dir := range flag.Args() {
		mod, err := pack(*out, *repo, *rev, dir, *version)
		if err != nil {
			fmt.Fprintf(os.Stderr, "modproxy: %s: %v\n", dir, err)
			os.Exit(1)
		}
		fmt.Printf("modproxy: %s@%s (from %s at %s)\n", mod, *version, dir, *rev)
	}
}

// pack writes the module in dir (relative to repo) at revision rev into the
// proxy out as version, and returns the module's path.
func pack(out, repo, rev, dir, version string) (string, error) {
	if !semver.IsValid(version) || semver.Canonical(version) != version {
		return "", fmt.Errorf("version %q is not a canonical semantic version (vX.Y.Z)", version)
	}
	root, err := filepath.Abs(repo)
	if err != nil {
		return "", err
	}
	subdir := path.Clean(filepath.ToSlash(dir))
	if subdir == "." {
		subdir = ""
	}
	gomod, err := git(root, "show", rev+":"+path.Join(subdir, "go.mod"))
	if err != nil {
		return "", err
	}
	modPath := modfile.ModulePath(gomod)
	if modPath == "" {
		return "", fmt.Errorf("no module line in go.mod at %s", rev)
	}
	if err := module.Check(modPath, version); err != nil {
		return "", err
	}
	when, err := git(root, "log", "-1", "--format=%cI", rev)
	if err != nil {
		return "", err
	}
	commitTime, err := time.Parse(time.RFC3339, strings.TrimSpace(string(when)))
	if err != nil {
		return "", err
	}

	escaped, err := module.EscapePath(modPath)
	if err != nil {
		return "", err
	}
	vdir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", err
	}
	if err := writeZip(filepath.Join(vdir, version+".zip"), module.Version{Path: modPath, Version: version}, root, rev, subdir); err != nil {
		return "", fmt.Errorf("zip: %w", err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, commitTime.UTC()})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".info"), info, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".mod"), gomod, 0o644); err != nil {
		return "", err
	}
	return modPath, addToList(filepath.Join(vdir, "list"), version)
}

// writeZip writes the zip of module m: the files committed at rev under
// subdir (git archive, so nothing ignored or uncommitted), without nested
// modules, with the repository's LICENSE if the module has none, as the go
// command builds it from a tag. (zip.CreateFromVCS would do the same but
// refuses a git worktree.)
func writeZip(name string, m module.Version, repo, rev, subdir string) error {
	tmp, err := os.MkdirTemp("", "modproxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	archive, err := git(repo, "archive", "--format=tar", rev)
	if err != nil {
		return err
	}
	if err := untar(archive, tmp); err != nil {
		return err
	}
	dir := filepath.Join(tmp, filepath.FromSlash(subdir))
	if _, err := os.Stat(filepath.Join(dir, "LICENSE")); os.IsNotExist(err) {
		if license, err := os.ReadFile(filepath.Join(tmp, "LICENSE")); err == nil {
			if err := os.WriteFile(filepath.Join(dir, "LICENSE"), license, 0o644); err != nil {
				return err
			}
		}
	}
	zf, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := modzip.CreateFromDir(zf, m, dir); err != nil {
		zf.Close()
		return err
	}
	return zf.Close()
}

// untar extracts the regular files of a tar archive into dir.
func untar(archive []byte, dir string) error {
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(name, dir+string(filepath.Separator)) {
			return fmt.Errorf("archive entry %q is outside the archive", h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(name, data, os.FileMode(h.Mode)&0o777); err != nil {
			return err
		}
	}
}

// addToList adds version to the proxy's list of the module's versions.
func addToList(list, version string) error {
	old, err := os.ReadFile(list)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, v := range strings.Fields(string(old)) {
		if v == version {
			return nil
		}
	}
	return os.WriteFile(list, append(old, version+"\n"...), 0o644)
}

// git runs git in the repository and returns its standard output.
func git(repo string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = repo
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
