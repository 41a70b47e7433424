// Package contract holds the contract tour: the SDK's every endpoint
// method, pagination, error answers, a 429 and a 409
// idempotency_key_in_use, sent through an independent validator of
// api/openapi.yaml (Stoplight Prism as a validating proxy) in front of the
// fake API of `botonom mock`; and the SDK's calls against Prism's static
// mock of the spec alone, which answers with the spec's own examples. Any
// request or answer Prism finds outside the spec fails. It has tests only;
// scripts/contract starts the mocks and Prism and runs them (.ci/run calls
// it).
package contract
