package otelbotonom

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strconv"

	"github.com/botonom/botonom-go"
)

// errorTypeOther is error.type when nothing better names the error.
const errorTypeOther = "_OTHER"

// errorType is the error.type of err, as the semantic conventions ask: the
// status code of an answer ("503"); "timeout" for a deadline or a network
// timeout; "canceled" for a canceled context; else the Go type of the
// innermost error that is not a mere wrapper ("*net.OpError").
func errorType(err error) string {
	var apiErr *botonom.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode != 0 {
		return strconv.Itoa(apiErr.StatusCode)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return "timeout"
	}
	name := errorTypeOther
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(*url.Error); ok {
			continue // names the request, not what went wrong
		}
		t := reflect.TypeOf(e)
		pkg := t.PkgPath()
		if t.Kind() == reflect.Pointer {
			pkg = t.Elem().PkgPath()
		}
		switch pkg {
		case "fmt", "errors":
			continue // fmt.Errorf's and errors.New's: no type of their own
		}
		name = t.String()
		break
	}
	return name
}
