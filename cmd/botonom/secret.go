package main

import (
	"flag"
	"os"
)

// defaultTestSecret is the webhook secret "botonom mock" exports and
// "botonom trigger" signs with when neither --secret nor
// BOTONOM_WEBHOOK_SECRET gives one: local development works without
// making one up. Never a secret to register with the real API.
const defaultTestSecret = "whsec_botonom_local_test"

// secretEnv is the variable trigger and verify read the secret from.
const secretEnv = "BOTONOM_WEBHOOK_SECRET"

// secretFlag adds --secret to fs. Its help names the variable and says
// whether it is set, never its value: help output ends up in terminals,
// screenshots and issue reports.
func secretFlag(fs *flag.FlagSet, usage, fallback string) *string {
	state := "not set"
	if os.Getenv(secretEnv) != "" {
		state = "set"
	}
	def := "$" + secretEnv + " (" + state + ")"
	if fallback != "" {
		def += ", else the test secret " + fallback
	}
	return fs.String("secret", "", usage+" (default "+def+")")
}

// resolveSecret returns the secret: the flag's, else the variable's, else
// fallback.
func resolveSecret(flagValue, fallback string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := os.Getenv(secretEnv); v != "" {
		return v
	}
	return fallback
}
