// Command errors shows what the client's errors tell and how to match them:
// errors.Is with the sentinels (botonom.ErrNotFound, ErrUnauthorized, …),
// errors.As to read a *botonom.APIError's fields, and the errors a bad
// argument gets before anything is sent.
//
//	go run ./examples/errors
//
// With BOTONOM_API_TOKEN set it talks to the API; without, to the fake API of
// package botonomtest, started in-process.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "errors:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The API when a token is set, else the fake API in this process.
	client, fake, err := botonomtest.ClientFromEnvOrFake(nil)
	if err != nil {
		return err
	}
	if fake != nil {
		defer fake.Close()
		fmt.Println("(BOTONOM_API_TOKEN is not set: using the built-in fake API)")
	}

	// 1. errors.Is: an agent that does not exist is a 404.
	_, _, err = client.Agents.Get(ctx, "agt_does_not_exist")
	if !errors.Is(err, botonom.ErrNotFound) {
		return fmt.Errorf("unknown agent: expected ErrNotFound, got %v", err)
	}
	fmt.Println("errors.Is(err, botonom.ErrNotFound):     true")

	// 2. errors.As: every answer that is not a 2xx is a *botonom.APIError,
	// with the API's error type and code, the request field at fault and
	// the request ID to quote to support.
	var apiErr *botonom.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("unknown agent: expected a *botonom.APIError, got %v", err)
	}
	fmt.Printf("  StatusCode %d, Type %s, Code %s, Param %s, RequestID %s\n",
		apiErr.StatusCode, apiErr.Type, apiErr.Code, apiErr.Param, apiErr.RequestID)
	fmt.Printf("  err: %v\n", err)

	// 3. A wrong token is a 401, never retried; the token is in no error text.
	wrong, err := botonom.NewClient("btm_sk_wrong", botonom.WithBaseURL(client.BaseURL()))
	if err != nil {
		return err
	}
	_, _, err = wrong.Agents.List(ctx, nil)
	if !errors.Is(err, botonom.ErrUnauthorized) {
		return fmt.Errorf("wrong token: expected ErrUnauthorized, got %v", err)
	}
	fmt.Println("errors.Is(err, botonom.ErrUnauthorized): true")
	fmt.Printf("  err: %v\n", err)

	// 4. A bad argument is refused before anything is sent: it matches
	// botonom.ErrInvalidArgument, and there is no response.
	_, resp, err := client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: ""})
	if !errors.Is(err, botonom.ErrInvalidArgument) {
		return fmt.Errorf("empty content: expected ErrInvalidArgument, got %v", err)
	}
	fmt.Printf("errors.Is(err, botonom.ErrInvalidArgument): true (a response? %t)\n", resp != nil)
	fmt.Printf("  err: %v\n", err)
	return nil
}
