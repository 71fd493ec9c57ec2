package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	gosync "sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// recordEnv is `record` in an expression: the record's identity.
type recordEnv struct {
	Source     string         `expr:"source"`
	Collection string         `expr:"collection"`
	Op         string         `expr:"op"`
	Key        map[string]any `expr:"key"`
	Time       string         `expr:"time"`
	Version    string         `expr:"version"`
	Metadata   map[string]any `expr:"metadata"`
}

// compileEnv declares the names an expression may use; anything else is a
// compile error ("unknown name rows").
var compileEnv = map[string]any{
	"row":    map[string]any{},
	"event":  map[string]any{},
	"record": recordEnv{},
}

// maxNodes bounds an expression's size.
const maxNodes = 2000

// exprOptions are the compile options of every expression: the environment,
// sfbridge's functions (overriding expr's builtins of the same name), no
// clock, nil-safe member access.
var exprOptions = func() []expr.Option {
	opts := []expr.Option{
		expr.Env(compileEnv),
		// A mapping is deterministic: no clock, and no machine-local time
		// zone (date and timezone accept "Local"); parseTime replaces date.
		expr.DisableBuiltin("now"),
		expr.DisableBuiltin("date"),
		expr.DisableBuiltin("timezone"),
		expr.Patch(nilSafe{}),
		expr.MaxNodes(maxNodes),
	}
	for _, f := range functions {
		opts = append(opts, expr.Function(f.name, f.fn, f.types...))
	}
	return opts
}()

// compileExpr compiles one expression and returns its static result type
// (nil or an interface type when only the run can tell).
func compileExpr(src string) (*vm.Program, reflect.Type, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil, errors.New("empty expression")
	}
	prog, err := expr.Compile(src, exprOptions...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s", quote(src), exprMessage(err))
	}
	var typ reflect.Type
	if n := prog.Node(); n != nil {
		typ = n.Type()
	}
	return prog, typ, nil
}

// exprMessage is the one-line message of a compile or run error of expr
// (its Error() adds the source and a caret on further lines).
func exprMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := strings.ReplaceAll(fe.Message, "type sync.recordEnv", "record")
		if fe.Line > 0 {
			msg = fmt.Sprintf("%s (column %d)", msg, fe.Column+1)
		}
		return msg
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// nilSafe makes every member access nil-safe (row.address.city is nil when
// row.address is missing), as if written with ?. — a missing payload field
// is nil, never an error, so coalesce and ?? work at any depth.
type nilSafe struct{}

func (nilSafe) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return
	}
	m.Optional = true
	ast.Patch(n, &ast.ChainNode{Node: m})
}

// quote renders an expression for a message.
func quote(src string) string {
	if len(src) > 120 {
		src = src[:117] + "..."
	}
	return "`" + src + "`"
}

// typeName names a static type for a message.
func typeName(t reflect.Type) string {
	switch {
	case t == nil:
		return "an unknown type"
	case t == reflect.TypeOf(time.Time{}):
		return "a time"
	case t == reflect.TypeOf(json.Number("")):
		return "a number"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true/false"
	case reflect.String:
		return "text"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a map"
	}
	return t.String()
}

// vms reuses expression machines: a VM's stacks survive between runs.
var vms = gosync.Pool{New: func() any { return new(vm.VM) }}

// run evaluates a compiled expression against env.
func run(prog *vm.Program, env map[string]any) (out any, err error) {
	m := vms.Get().(*vm.VM)
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
			return // a VM that panicked outside its own recovery is not reused
		}
		vms.Put(m)
	}()
	out, err = m.Run(prog, env)
	if err != nil {
		return nil, errors.New(exprMessage(err))
	}
	return out, nil
}

// names reports which of row, event and record an expression uses.
type names struct{ row, event, record bool }

func (n *names) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok {
		switch id.Value {
		case "row":
			n.row = true
		case "event":
			n.event = true
		case "record":
			n.record = true
		}
	}
}

// uses adds the names prog uses to n.
func (n *names) uses(prog *vm.Program) {
	if prog == nil || prog.Node() == nil {
		return
	}
	node := prog.Node()
	ast.Walk(&node, n)
}
