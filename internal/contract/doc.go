// Package contract holds the contract tour: the SDK's every endpoint
// method, pagination, error answers and a 429, sent through an independent
// validator of api/openapi.yaml (Stoplight Prism as a validating proxy) in
// front of the fake API of `botonom mock`. Any request or answer Prism finds
// outside the spec fails the tour. It has tests only; scripts/contract
// starts the mock and Prism and runs them (.ci/run calls it).
package contract
