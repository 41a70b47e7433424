module github.com/botonom/botonom-go/botonomredis

go 1.26.0

require (
	github.com/botonom/botonom-go v0.1.0
	github.com/go-redis/redis_rate/v10 v10.0.1
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/go-querystring v1.2.0 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.8 // indirect
	github.com/klauspost/cpuid/v2 v2.4.2 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

// Inside the repository the SDK is this checkout; a published release
// requires the release above (scripts/release sets it), and dependents ignore
// replace.
replace github.com/botonom/botonom-go => ../
