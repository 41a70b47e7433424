// Package apiguard lists the public Go API of a module, one line per
// exported name, in the spirit of the Go project's api/*.txt files:
//
//	pkg github.com/botonom/botonom-go, func NewClient(string, ...Option) (*Client, error)
//	pkg github.com/botonom/botonom-go, method (*Client) Rate() Rate
//	pkg github.com/botonom/botonom-go, type Response struct, embedded *http.Response
//
// Its test compares the listing of every module of the repository
// (scripts/modules) with the golden files in api/go/, so that any change to
// the public API shows as a reviewable diff; after a deliberate change, the
// one command
//
//	go test ./internal/apiguard -update
//
// (from the repository root) rewrites them.
//
// The listing covers every package of the module except main packages and
// internal/ ones, which users cannot import. It reads the compiler's export
// data (go list -export) with go/importer, so it needs no dependency beyond
// the standard library and the go command.
package apiguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Listing returns the sorted lines of the public API of the Go module in
// dir: every exported constant (with its value), variable, function, type,
// method, struct field and interface method of its packages that are
// neither main nor internal. Parameter names are left out: renaming one
// changes no caller. Methods promoted from embedded fields are not repeated;
// the "embedded" line of the struct shows them.
func Listing(dir string) ([]string, error) {
	pkgs, err := goList(dir)
	if err != nil {
		return nil, err
	}
	exports := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		exports[p.ImportPath] = p.Export
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("apiguard: no export data for %q", path)
		}
		return os.Open(file)
	})
	var lines []string
	for _, p := range pkgs {
		if p.DepOnly { // goList named only the public packages
			continue
		}
		pkg, err := imp.Import(p.ImportPath)
		if err != nil {
			return nil, fmt.Errorf("apiguard: load %s: %w", p.ImportPath, err)
		}
		lines = append(lines, packageLines(pkg)...)
	}
	slices.Sort(lines)
	return slices.Compact(lines), nil
}

// listedPackage is the part of `go list -json` that Listing reads.
type listedPackage struct {
	ImportPath string
	Name       string
	Export     string
	DepOnly    bool
}

// goList says where the export data of the module's public packages and
// of everything they import is, building it. It names the public packages
// first, without building, so that what only main packages import (a web
// framework in an example) is never compiled.
func goList(dir string) ([]listedPackage, error) {
	all, err := runGoList(dir, "./...")
	if err != nil {
		return nil, err
	}
	var public []string
	for _, p := range all {
		if p.Name != "main" && !isInternal(p.ImportPath) {
			public = append(public, p.ImportPath)
		}
	}
	if len(public) == 0 {
		return nil, nil
	}
	return runGoList(dir, append([]string{"-deps", "-export"}, public...)...)
}

// runGoList runs go list -json in dir with args and decodes its answer.
func runGoList(dir string, args ...string) ([]listedPackage, error) {
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Name,Export,DepOnly"}, args...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("apiguard: go list in %s: %w\n%s", dir, err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("apiguard: decode go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// isInternal reports whether an import path has an internal element, which
// makes it importable only from inside the repository.
func isInternal(path string) bool {
	return slices.Contains(strings.Split(path, "/"), "internal")
}

// packageLines lists the exported names of one package.
func packageLines(pkg *types.Package) []string {
	w := &writer{pkg: pkg}
	prefix := "pkg " + pkg.Path() + ", "
	var lines []string
	emit := func(s string) { lines = append(lines, prefix+s) }
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		if !token.IsExported(name) {
			continue
		}
		switch obj := scope.Lookup(name).(type) {
		case *types.Const:
			emit(fmt.Sprintf("const %s %s = %s", name, w.typ(obj.Type()), obj.Val().ExactString()))
		case *types.Var:
			emit(fmt.Sprintf("var %s %s", name, w.typ(obj.Type())))
		case *types.Func:
			emit("func " + name + w.signature(obj.Type().(*types.Signature)))
		case *types.TypeName:
			lines = append(lines, w.typeLines(prefix, obj)...)
		}
	}
	return lines
}

// typeLines lists a type declaration: the type, then its exported fields or
// interface methods and its exported methods, one a line.
func (w *writer) typeLines(prefix string, obj *types.TypeName) []string {
	name := obj.Name()
	if obj.IsAlias() {
		return []string{prefix + "type " + name + " = " + w.typ(types.Unalias(obj.Type()))}
	}
	named, ok := obj.Type().(*types.Named)
	if !ok { // not reachable for a package-level declaration; kept total
		return []string{prefix + "type " + name + " " + w.typ(obj.Type())}
	}
	head := prefix + "type " + name + w.typeParams(named.TypeParams())
	var lines []string
	switch u := named.Underlying().(type) {
	case *types.Struct:
		head += " struct"
		lines = append(lines, head)
		for i := range u.NumFields() {
			f := u.Field(i)
			switch {
			case f.Embedded():
				lines = append(lines, head+", embedded "+w.typ(f.Type()))
			case f.Exported():
				lines = append(lines, head+", "+f.Name()+" "+w.typ(f.Type()))
			}
		}
	case *types.Interface:
		var methods []string
		unexported := false
		for i := range u.NumMethods() {
			m := u.Method(i)
			if !m.Exported() {
				unexported = true
				continue
			}
			methods = append(methods, m.Name())
			lines = append(lines, head+" interface, "+m.Name()+w.signature(m.Type().(*types.Signature)))
		}
		if unexported {
			methods = append(methods, "unexported methods")
		}
		if len(methods) == 0 {
			lines = append(lines, head+" interface {}")
		} else {
			lines = append(lines, head+" interface { "+strings.Join(methods, ", ")+" }")
		}
	default:
		lines = append(lines, head+" "+w.typ(u))
	}
	for i := range named.NumMethods() {
		m := named.Method(i)
		if !m.Exported() {
			continue
		}
		sig := m.Type().(*types.Signature)
		recv := w.typ(sig.Recv().Type())
		lines = append(lines, prefix+"method ("+recv+") "+m.Name()+w.signature(sig))
	}
	return lines
}

// writer prints types without parameter names, qualifying names from
// other packages by package name, as the Go project's api files do.
type writer struct {
	pkg *types.Package
}

// typ returns the text of a type.
func (w *writer) typ(t types.Type) string {
	var b strings.Builder
	w.write(&b, t)
	return b.String()
}

func (w *writer) write(b *strings.Builder, t types.Type) {
	switch t := t.(type) {
	case *types.Basic:
		b.WriteString(t.Name())
	case *types.Pointer:
		b.WriteString("*")
		w.write(b, t.Elem())
	case *types.Slice:
		b.WriteString("[]")
		w.write(b, t.Elem())
	case *types.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		w.write(b, t.Elem())
	case *types.Map:
		b.WriteString("map[")
		w.write(b, t.Key())
		b.WriteString("]")
		w.write(b, t.Elem())
	case *types.Chan:
		switch t.Dir() {
		case types.SendRecv:
			b.WriteString("chan ")
		case types.SendOnly:
			b.WriteString("chan<- ")
		case types.RecvOnly:
			b.WriteString("<-chan ")
		}
		w.write(b, t.Elem())
	case *types.Signature:
		b.WriteString("func")
		b.WriteString(w.signature(t))
	case *types.Struct:
		b.WriteString("struct{")
		for i := range t.NumFields() {
			if i > 0 {
				b.WriteString("; ")
			}
			f := t.Field(i)
			if !f.Embedded() {
				b.WriteString(f.Name() + " ")
			}
			w.write(b, f.Type())
		}
		b.WriteString("}")
	case *types.Interface:
		w.writeInterface(b, t)
	case *types.Named:
		w.writeObject(b, t.Obj())
		w.writeTypeArgs(b, t.TypeArgs())
	case *types.Alias:
		w.writeObject(b, t.Obj())
		w.writeTypeArgs(b, t.TypeArgs())
	case *types.TypeParam:
		b.WriteString(t.Obj().Name())
	case *types.Union:
		for i := range t.Len() {
			if i > 0 {
				b.WriteString(" | ")
			}
			if t.Term(i).Tilde() {
				b.WriteString("~")
			}
			w.write(b, t.Term(i).Type())
		}
	default:
		b.WriteString(types.TypeString(t, w.qualifier))
	}
}

func (w *writer) writeInterface(b *strings.Builder, t *types.Interface) {
	var parts []string
	for i := range t.NumEmbeddeds() {
		parts = append(parts, w.typ(t.EmbeddedType(i)))
	}
	for i := range t.NumExplicitMethods() {
		m := t.ExplicitMethod(i)
		parts = append(parts, m.Name()+w.signature(m.Type().(*types.Signature)))
	}
	if len(parts) == 0 {
		b.WriteString("interface{}")
		return
	}
	b.WriteString("interface{ " + strings.Join(parts, "; ") + " }")
}

func (w *writer) writeObject(b *strings.Builder, obj *types.TypeName) {
	if obj.Pkg() != nil && obj.Pkg() != w.pkg {
		b.WriteString(obj.Pkg().Name() + ".")
	}
	b.WriteString(obj.Name())
}

func (w *writer) writeTypeArgs(b *strings.Builder, args *types.TypeList) {
	if args.Len() == 0 {
		return
	}
	b.WriteString("[")
	for i := range args.Len() {
		if i > 0 {
			b.WriteString(", ")
		}
		w.write(b, args.At(i))
	}
	b.WriteString("]")
}

func (w *writer) qualifier(p *types.Package) string {
	if p == w.pkg {
		return ""
	}
	return p.Name()
}

// typeParams returns "[K comparable, V any]", or "" for none.
func (w *writer) typeParams(list *types.TypeParamList) string {
	if list.Len() == 0 {
		return ""
	}
	parts := make([]string, list.Len())
	for i := range list.Len() {
		tp := list.At(i)
		parts[i] = tp.Obj().Name() + " " + w.typ(tp.Constraint())
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// signature returns "[T any](int, ...string) (T, error)": type parameters,
// parameter types and result types, without names.
func (w *writer) signature(sig *types.Signature) string {
	var b strings.Builder
	b.WriteString(w.typeParams(sig.TypeParams()))
	b.WriteString("(")
	params := sig.Params()
	for i := range params.Len() {
		if i > 0 {
			b.WriteString(", ")
		}
		t := params.At(i).Type()
		if sig.Variadic() && i == params.Len()-1 {
			if s, ok := t.(*types.Slice); ok {
				b.WriteString("...")
				t = s.Elem()
			}
		}
		w.write(&b, t)
	}
	b.WriteString(")")
	results := sig.Results()
	switch results.Len() {
	case 0:
	case 1:
		b.WriteString(" ")
		w.write(&b, results.At(0).Type())
	default:
		b.WriteString(" (")
		for i := range results.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			w.write(&b, results.At(i).Type())
		}
		b.WriteString(")")
	}
	return b.String()
}

// Diff returns the lines that old lacks, marked "+", and those that new
// lacks, marked "-", in sorted order (both listings are sorted sets); ""
// when they agree.
func Diff(old, new []string) string {
	var b strings.Builder
	i, j := 0, 0
	for i < len(old) || j < len(new) {
		switch {
		case j == len(new) || (i < len(old) && old[i] < new[j]):
			b.WriteString("-" + old[i] + "\n")
			i++
		case i == len(old) || new[j] < old[i]:
			b.WriteString("+" + new[j] + "\n")
			j++
		default:
			i++
			j++
		}
	}
	return b.String()
}
