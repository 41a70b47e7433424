// Command benchtable reads `go test -bench` output (several -count runs)
// on stdin and prints, per benchmark, the median of each metric and the
// ratio to its baseline measured in the same run, then checks the targets
// of the performance issue. scripts/bench runs it.
//
// Baselines: X/sdk is compared with X/raw, ListAll10k/iter with
// ListAll10k/collect, VerifySignature/S with BareHMAC/S,
// WebhookHandler/dedup-memory with WebhookHandler/plain. SendMessage/paired,
// WebhookHandler/paired and ConcurrentSend report their own ratio, measured
// in the same loop.
package main

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// procSuffix is the -GOMAXPROCS suffix go test adds to names.
var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	metrics := map[string]map[string][]float64{} // name → unit → values
	var order []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		if metrics[name] == nil {
			metrics[name] = map[string][]float64{}
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 { // f[1] is the iteration count
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				metrics[name][f[i+1]] = append(metrics[name][f[i+1]], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	med := func(name, unit string) (float64, bool) {
		vs := metrics[name][unit]
		if len(vs) == 0 {
			return 0, false
		}
		s := slices.Sorted(slices.Values(vs))
		if len(s)%2 == 1 {
			return s[len(s)/2], true
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\truns\tns/op\tB/op\tallocs/op\tbaseline\ttime×\tB×\tΔallocs\tother (medians)\t")
	for _, name := range order {
		ns, _ := med(name, "ns/op")
		bop, _ := med(name, "B/op")
		allocs, _ := med(name, "allocs/op")
		row := []string{name, strconv.Itoa(len(metrics[name]["ns/op"])), num(ns), num(bop), num(allocs), "", "", "", ""}
		if base := baseline(name); metrics[base] != nil {
			bns, _ := med(base, "ns/op")
			bb, _ := med(base, "B/op")
			ba, _ := med(base, "allocs/op")
			row[5] = base
			row[6] = ratio(ns, bns)
			row[7] = ratio(bop, bb)
			row[8] = fmt.Sprintf("%+.0f", allocs-ba)
		}
		var other []string
		for _, unit := range slices.Sorted(maps.Keys(metrics[name])) {
			switch unit {
			case "ns/op", "B/op", "allocs/op", "MB/s":
				continue
			}
			v, _ := med(name, unit)
			other = append(other, unit+"="+num(v))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t"+strings.Join(other, " ")+"\t")
	}
	_ = tw.Flush()

	// The targets.
	fmt.Println()
	check := func(what string, ok, measured bool, got string) {
		status := "ok  "
		switch {
		case !measured:
			status, got = "n/a ", "not measured"
		case !ok:
			status = "MISS"
		}
		fmt.Printf("%s %-56s %s\n", status, what, got)
	}
	sdk, ok1 := med("SendMessage/sdk", "ns/op")
	raw, ok2 := med("SendMessage/raw", "ns/op")
	check("SendMessage: sdk ≤ 1.10× raw ns/op (separate runs)", sdk <= 1.10*raw, ok1 && ok2, ratio(sdk, raw)+"×")
	pr, ok := med("SendMessage/paired", "ratio")
	check("SendMessage: sdk ≤ 1.10× raw ns/op (paired)", pr <= 1.10, ok, num(pr)+"×")
	sa, ok1 := med("SendMessage/sdk", "allocs/op")
	ra, ok2 := med("SendMessage/raw", "allocs/op")
	check("SendMessage: sdk allocs/op ≤ raw + 25", sa <= ra+25, ok1 && ok2, fmt.Sprintf("%+.0f", sa-ra))
	r, ok := med("ConcurrentSend/sdk", "ratio")
	check("ConcurrentSend: sdk throughput ≥ 0.90× raw", r >= 0.90, ok, num(r)+"×")
	cs, ok := med("ConcurrentSend/sdk", "conns/run")
	check("ConcurrentSend: sdk new connections per run ≤ 128", cs <= 128, ok, num(cs))
	wr, ok := med("WebhookHandler/paired", "ratio")
	check("WebhookHandler: dedup-memory ≤ 1.10× plain (paired)", wr <= 1.10, ok, num(wr)+"×")
	it, ok1 := med("ListAll10k/iter", "peak-heap-B")
	co, ok2 := med("ListAll10k/collect", "peak-heap-B")
	check("ListAll10k: peak heap bounded by a page (< collect/10)", it < co/10, ok1 && ok2, fmt.Sprintf("%s B vs %s B", num(it), num(co)))
}

// baseline names the benchmark name is compared with, or "".
func baseline(name string) string {
	switch {
	case strings.HasSuffix(name, "/sdk") && !strings.HasPrefix(name, "ConcurrentSend/"):
		return strings.TrimSuffix(name, "/sdk") + "/raw"
	case name == "ListAll10k/iter":
		return "ListAll10k/collect"
	case strings.HasPrefix(name, "VerifySignature/"):
		return "BareHMAC/" + strings.TrimPrefix(name, "VerifySignature/")
	case name == "WebhookHandler/dedup-memory":
		return "WebhookHandler/plain"
	}
	return ""
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(a/b, 'f', 3, 64)
}

func num(v float64) string {
	if v == float64(int64(v)) && v < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
