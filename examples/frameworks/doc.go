// Package frameworks holds recipes that receive Botonom webhook deliveries
// behind the web frameworks people use — net/http, chi, gin and echo — on
// the raw request body, which is what the signature covers. Each
// subdirectory is a runnable main with a test that delivers a signed event
// through the framework's router.
//
// It is a module of its own so that neither the SDK nor its users inherit
// a web framework.
package frameworks
