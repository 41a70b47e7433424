package otelbotonom

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// spanContext is a context with a span its owner (the instrumentation
// that started it) finds again, whatever a hook after the owner puts in
// the context: a CallTrace or DeliveryTrace that starts a span of its own
// makes that span the context's current one, and ending the current span
// would end the hook's and leave the owner's open. When one owner started
// several spans in one chain — the same Instrument given to a client and
// to one of its calls, or a call made inside another's context — each End
// takes the innermost span of its owner not yet ended, so each span is
// ended once.
type spanContext struct {
	context.Context
	owner any // a pointer: *clientInstrumentation or *Webhooks
	span  trace.Span
	outer *spanContext // the owner's span further out in the chain, if any
	ended bool
}

// Value answers the owner itself, a pointer of this package used as the
// key (a key that costs no allocation to look up, unlike a struct holding
// it), with c.
func (c *spanContext) Value(key any) any {
	if key == c.owner {
		return c
	}
	return c.Context.Value(key)
}

// withOwnSpan is ctx carrying span, started by owner.
func withOwnSpan(ctx context.Context, owner any, span trace.Span) context.Context {
	outer, _ := ctx.Value(owner).(*spanContext)
	return &spanContext{Context: ctx, owner: owner, span: span, outer: outer}
}

// openSpan is the innermost span of owner in ctx not yet ended; nil if
// none.
func openSpan(ctx context.Context, owner any) *spanContext {
	c, _ := ctx.Value(owner).(*spanContext)
	for c != nil && c.ended {
		c = c.outer
	}
	return c
}

// ownSpan is the span owner started for ctx; a span that records nothing
// if none.
func ownSpan(ctx context.Context, owner any) trace.Span {
	if c := openSpan(ctx, owner); c != nil {
		return c.span
	}
	return trace.SpanFromContext(context.Background())
}

// endOwnSpan is ownSpan, marked ended: the caller ends it, and the next
// call finds the owner's span further out.
func endOwnSpan(ctx context.Context, owner any) trace.Span {
	c := openSpan(ctx, owner)
	if c == nil {
		return trace.SpanFromContext(context.Background())
	}
	c.ended = true
	return c.span
}
