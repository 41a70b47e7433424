package botonom

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDoc_EventTypeListsItsConstants holds what "go doc botonom.EventType"
// shows: it prints a one-line summary of each constant declaration of the
// type, and a grouped const block shortens to its first name and "...".
func TestDoc_EventTypeListsItsConstants(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		require.NoError(t, err)
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/botonom/botonom-go")
	require.NoError(t, err)
	var listed []string
	for _, typ := range p.Types {
		if typ.Name != "EventType" {
			continue
		}
		for _, v := range typ.Consts {
			require.Len(t, v.Decl.Specs, 1, "go doc shows %v as %q ...", v.Names, v.Names[0])
			assert.True(t, strings.HasPrefix(v.Doc, v.Names[0]+" "), "%s has a doc comment starting with its name", v.Names[0])
			lit := v.Decl.Specs[0].(*ast.ValueSpec).Values[0].(*ast.BasicLit)
			listed = append(listed, strings.Trim(lit.Value, `"`))
		}
	}
	var want []string
	for _, et := range EventTypes() {
		want = append(want, string(et))
	}
	assert.ElementsMatch(t, want, listed, "every EventTypes entry is a constant of its own")
}
