// Package frameworks holds recipes that receive Botonom webhook deliveries
// behind the web frameworks people use — net/http, chi, gin and echo — on
// the raw request body, which is what the signature covers. Each
// subdirectory is a runnable main with a test that delivers a signed event
// through the framework's router. README.md says why they are safe to
// copy into a service: bounded reads and bodies (413 beyond 1 MiB), the raw
// body verified first, refusals that tell the sender nothing.
//
// It is a module of its own so that neither the SDK nor its users inherit
// a web framework.
package frameworks
